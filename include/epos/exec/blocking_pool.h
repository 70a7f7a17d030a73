// BlockingPool: a bounded pool of threads for calls that block (SQLite, file I/O, DNS),
// so workers never block (DESIGN.md §4, Fluxor's blocking pool).
//
// Submit never blocks: when `queue_capacity` tasks are already waiting it returns
// ErrorCode::kBackpressure and the caller decides (fail the node, retry later). Tasks run
// in FIFO order on `threads` threads. A task's result goes back to the trace through an
// AsyncOp it owns (see Context::RunBlocking).
//
// Stopping is bounded: Stop(deadline) refuses new tasks (kUnavailable), destroys the tasks
// not yet started (unrun: an AsyncOp they hold is abandoned, so its trace goes on), waits
// until `deadline` for the tasks running, and joins the threads that finished. A thread
// still inside a task at the deadline is detached and left to finish it on its own: the
// report counts it, and the state it touches afterwards (the queue, the counters) is shared
// with it, so it outlives the pool. The task itself must then not rely on its submitter
// (Context::RunBlocking's tasks do not: their AsyncOp is cancelled by the Runtime first).
//
// Thread-safety: Submit, queued and running from any thread; Start and Stop from the owner.
#ifndef EPOS_EXEC_BLOCKING_POOL_H_
#define EPOS_EXEC_BLOCKING_POOL_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/unique_function.h"

namespace epos {

struct BlockingPoolOptions {
  unsigned threads = 8;
  std::size_t queue_capacity = 1024;
};

class BlockingPool {
 public:
  using Task = UniqueFunction<void()>;
  using Clock = std::chrono::steady_clock;

  // What Stop left undone.
  struct StopReport {
    std::uint64_t cancelled = 0;  // tasks destroyed before they started
    std::uint64_t abandoned = 0;  // tasks still running at the deadline, on detached threads
  };

  explicit BlockingPool(BlockingPoolOptions options = {});
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool();  // Stop(now) unless stopped

  void Start();
  // See the class comment. Idempotent: a second call reports nothing.
  StopReport Stop(Clock::time_point deadline);

  // kBackpressure when full, kUnavailable when stopped; the task is destroyed unrun then.
  [[nodiscard]] Status Submit(Task task);

  std::size_t queued() const;
  std::size_t running() const;
  std::size_t capacity() const { return options_.queue_capacity; }

 private:
  struct Core;
  static void Loop(const std::shared_ptr<Core>& core);

  const BlockingPoolOptions options_;
  std::shared_ptr<Core> core_;  // shared with the threads
  std::vector<std::thread> threads_;
};

}  // namespace epos

#endif  // EPOS_EXEC_BLOCKING_POOL_H_
