// BlockingPool: a bounded pool of threads for calls that block (SQLite, file I/O, DNS),
// so workers never block (DESIGN.md §4).
//
// Submit never blocks: when `queue_capacity` tasks are already waiting it returns
// ErrorCode::kBackpressure and the caller decides (fail the node, retry later). Tasks run
// in FIFO order on `threads` threads. A task's result goes back to the trace through an
// AsyncOp it owns (see Context::RunBlocking).
//
// Thread-safety: Submit from any thread. Stop() refuses new tasks (kUnavailable), runs
// those already queued, and joins.
#ifndef EPOS_EXEC_BLOCKING_POOL_H_
#define EPOS_EXEC_BLOCKING_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
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

  explicit BlockingPool(BlockingPoolOptions options = {});
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool();

  void Start();
  void Stop();

  // kBackpressure when full, kUnavailable when stopped; the task is destroyed unrun then.
  Status Submit(Task task);

  std::size_t queued() const;
  std::size_t capacity() const { return options_.queue_capacity; }

 private:
  void Loop();

  const BlockingPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace epos

#endif  // EPOS_EXEC_BLOCKING_POOL_H_
