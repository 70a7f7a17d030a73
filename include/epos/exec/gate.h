// Gate: admission of units of work that must end before their owner stops (seastar's
// `gate` is the model: enter/leave around each unit, close() then wait for those inside).
// The Runtime passes every trace through one: StartTrace enters, completion leaves, and
// Stop closes it and waits for the traces inside up to its drain deadline.
//
// Sharded like the trace store: each shard (a worker, or the shared external shard) counts
// on its own cache line, so entering and leaving never bounce a line between cores. A unit
// may leave on another shard than it entered; only the sum over shards is meaningful.
//
// Memory ordering (the store-buffering case of Dekker's algorithm). TryEnter increments its
// shard, then reads `closed_`; Close sets `closed_`, then sums the shards. All four are
// seq_cst, so in their single total order either TryEnter's read comes after Close's write
// (it sees closed and backs out) or Close's sum comes after the increment (it counts the
// unit). So once Close returns, every unit admitted is counted, and the sum never reads
// zero while one is inside: a unit's leave cannot be seen without its enter. Leave
// decrements, then reads `closed_`, and wakes the waiter when the gate is closed; the
// waiter re-sums under `mu_`, which Leave takes to notify, so no wake-up is lost. A failed
// TryEnter also leaves (it counted itself), so it wakes a waiter too.
//
// Thread-safety: TryEnter, Leave, count and closed from any thread; Close and
// WaitUntilEmpty from any thread (typically the one stopping the owner).
#ifndef EPOS_EXEC_GATE_H_
#define EPOS_EXEC_GATE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace epos {

class Gate {
 public:
  // `shards`: how many distinct shard numbers callers use (0 .. shards-1).
  explicit Gate(unsigned shards);
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Admits one unit, counted on `shard`; false once the gate is closed (nothing counted).
  bool TryEnter(unsigned shard) {
    counts_[shard].n.fetch_add(1, std::memory_order_seq_cst);
    if (!closed_.load(std::memory_order_seq_cst)) return true;
    Leave(shard);
    return false;
  }
  // Ends one admitted unit; `shard` may differ from the one it entered on.
  void Leave(unsigned shard) {
    counts_[shard].n.fetch_sub(1, std::memory_order_seq_cst);
    if (closed_.load(std::memory_order_seq_cst)) WakeWaiter();
  }

  // Refuses every later TryEnter. Idempotent.
  void Close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // After Close: waits until no unit is inside, or `deadline`. True when empty.
  [[nodiscard]] bool WaitUntilEmpty(std::chrono::steady_clock::time_point deadline);

  // Units inside (exact after Close; a snapshot that may be off by the units entering or
  // leaving at that moment before).
  std::int64_t count() const;

 private:
  void WakeWaiter();

  struct alignas(64) Count {
    std::atomic<std::int64_t> n{0};
  };
  const unsigned shards_;
  std::unique_ptr<Count[]> counts_;
  alignas(64) std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::condition_variable empty_cv_;  // signalled by Leave once closed
};

}  // namespace epos

#endif  // EPOS_EXEC_GATE_H_
