#include "epos/exec/gate.h"

namespace epos {

Gate::Gate(unsigned shards) : shards_(shards), counts_(new Count[shards]) {}

void Gate::Close() { closed_.store(true, std::memory_order_seq_cst); }

std::int64_t Gate::count() const {
  std::int64_t n = 0;
  for (unsigned i = 0; i < shards_; ++i) n += counts_[i].n.load(std::memory_order_seq_cst);
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
