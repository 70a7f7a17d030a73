// Gate: admission of units of work that must end before their owner stops (seastar's
// `gate` is the model: enter/leave around each unit, close() then wait for those inside).
// The Runtime passes every trace through one: StartTrace enters, completion leaves, and
// Stop closes it and waits for the traces inside up to its drain deadline.
//
// Sharded like the trace store, and as cheap on the hot path. Shards 0..owned-1 each belong
// to one thread at a time (a worker, or a thread attached to its slot), which counts on its
// own cache line with a plain load and store, no locked instruction; the last shard is
// shared by every other thread and counts with an atomic add. A unit may leave on another
// shard than it entered; only the sum over shards is meaningful.
//
// Memory ordering (the store-buffering case of Dekker's algorithm, made asymmetric).
// TryEnter writes its shard's count, then reads `closed_`; Close writes `closed_`, then
// reads every count. Either TryEnter sees the gate closed (and backs out), or Close counts
// the unit: that needs a full barrier between the write and the read on both sides. The
// entering side, which runs once per trace, pays only a compiler barrier; the closing side,
// which runs once per Stop, issues membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which makes
// every running thread of the process execute a full barrier (folly's
// asymmetricLightBarrier / asymmetricHeavyBarrier, the scheme of Linux's sys_membarrier and
// liburcu). Where the kernel lacks it (and under ThreadSanitizer, which does not model it),
// both sides use seq_cst fences. So once Close returns every admitted unit is counted, and
// the sum never reads zero while one is inside (a unit's leave cannot be seen without its
// enter). Leave writes its decrement, then reads `closed_` the same way, and wakes the waiter
// when the gate is closed; the waiter re-sums under `mu_`, which Leave takes to notify, so no
// wake-up is lost. A refused TryEnter also leaves (it counted itself), so it wakes a waiter.
//
// Thread-safety: TryEnter and Leave from any thread, on a shard below `owned` only from the
// thread that owns that shard at the time; count, closed, Close and WaitUntilEmpty from any
// thread (typically the one stopping the owner).
#ifndef EPOS_EXEC_GATE_H_
#define EPOS_EXEC_GATE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace epos {

namespace internal {
// True when HeavyBarrier is a process-wide membarrier, so LightBarrier may be a compiler
// barrier only. Decided once, before the first Gate is built.
extern std::atomic<bool> heavy_barrier_is_membarrier;
// The cheap side of the asymmetric fence: orders this thread's earlier writes before its
// later reads against a HeavyBarrier on another thread.
inline void LightBarrier() {
  if (heavy_barrier_is_membarrier.load(std::memory_order_relaxed)) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}
// The expensive side: a full barrier on every thread of the process (microseconds).
void HeavyBarrier();
}  // namespace internal

class Gate {
 public:
  // Shards 0..owned-1 are owned by one thread at a time; shard `owned` is shared.
  explicit Gate(unsigned owned);
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // The shard for threads that own none.
  unsigned shared_shard() const { return owned_; }

  // Admits one unit, counted on `shard`; false once the gate is closed (nothing counted).
  bool TryEnter(unsigned shard) {
    Add(shard, 1);
    internal::LightBarrier();
    if (!closed_.load(std::memory_order_relaxed)) return true;
    Leave(shard);
    return false;
  }
  // Ends one admitted unit; `shard` may differ from the one it entered on.
  void Leave(unsigned shard) {
    Add(shard, -1);
    internal::LightBarrier();
    if (closed_.load(std::memory_order_relaxed)) WakeWaiter();
  }

  // Refuses every later TryEnter. Idempotent.
  void Close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // After Close: waits until no unit is inside, or `deadline`. True when empty.
  [[nodiscard]] bool WaitUntilEmpty(std::chrono::steady_clock::time_point deadline);

  // Units inside (exact after Close; before, a snapshot that may be off by the units
  // entering or leaving at that moment).
  std::int64_t count() const;

 private:
  void Add(unsigned shard, std::int64_t n) {
    std::atomic<std::int64_t>& c = counts_[shard].n;
    if (shard < owned_) {
      c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      c.fetch_add(n, std::memory_order_relaxed);
    }
  }
  void WakeWaiter();

  struct alignas(64) Count {
    std::atomic<std::int64_t> n{0};
  };
  const unsigned owned_;
  std::unique_ptr<Count[]> counts_;  // owned_ + 1 shards
  alignas(64) std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::condition_variable empty_cv_;  // signalled by Leave once closed
};

}  // namespace epos

#endif  // EPOS_EXEC_GATE_H_
