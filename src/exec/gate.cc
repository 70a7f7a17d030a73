#include "epos/exec/gate.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace epos {

namespace internal {

std::atomic<bool> heavy_barrier_is_membarrier{false};

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kTryMembarrier = false;  // TSan models fences, not membarrier
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTryMembarrier = false;
#else
constexpr bool kTryMembarrier = true;
#endif
#else
constexpr bool kTryMembarrier = true;
#endif

// Registers the process for private expedited membarrier (Linux 4.14+), once.
bool RegisterMembarrier() {
  if (!kTryMembarrier) return false;
  const long supported = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

}  // namespace

void HeavyBarrier() {
  if (heavy_barrier_is_membarrier.load(std::memory_order_relaxed) &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
    return;
  }
  // Registered, then refused: cannot happen once registered; the light side would then be
  // a compiler barrier only, so there is no sound fallback left.
  if (heavy_barrier_is_membarrier.load(std::memory_order_relaxed)) std::abort();
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace internal

Gate::Gate(unsigned owned) : owned_(owned), counts_(new Count[owned + 1]) {
  // Before any gate can be entered: a thread that uses a gate learns of it after this.
  static const bool registered = [] {
    const bool ok = internal::RegisterMembarrier();
    internal::heavy_barrier_is_membarrier.store(ok, std::memory_order_relaxed);
    return ok;
  }();
  (void)registered;
}

void Gate::Close() {
  closed_.store(true, std::memory_order_relaxed);
  internal::HeavyBarrier();
}

std::int64_t Gate::count() const {
  std::int64_t n = 0;
  for (unsigned i = 0; i <= owned_; ++i) n += counts_[i].n.load(std::memory_order_relaxed);
  return n;
}

void Gate::WakeWaiter() {
  // Under the waiter's mutex: it is either before its re-count (and will see this leave)
  // or already waiting (and gets the signal).
  std::lock_guard<std::mutex> lock(mu_);
  empty_cv_.notify_all();
}

bool Gate::WaitUntilEmpty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (count() != 0) {
    if (empty_cv_.wait_until(lock, deadline) == std::cv_status::timeout) return count() == 0;
  }
  return true;
}

}  // namespace epos
