#include "epos/exec/blocking_pool.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

namespace epos {

struct BlockingPool::Core {
  std::mutex mu;
  std::condition_variable work_cv;  // a task queued, or stopping
  std::condition_variable idle_cv;  // a task finished while stopping
  std::deque<Task> queue;           // guarded by mu
  std::size_t running = 0;          // tasks being run; guarded by mu
  bool stopping = false;            // guarded by mu
};

BlockingPool::BlockingPool(BlockingPoolOptions options)
    : options_(options), core_(std::make_shared<Core>()) {}

BlockingPool::~BlockingPool() { Stop(Clock::now()); }

void BlockingPool::Start() {
  for (unsigned i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([core = core_] { Loop(core); });
  }
}

BlockingPool::StopReport BlockingPool::Stop(Clock::time_point deadline) {
  StopReport report;
  std::deque<Task> unstarted;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->stopping) return report;
    core_->stopping = true;
    unstarted.swap(core_->queue);
  }
  core_->work_cv.notify_all();
  report.cancelled = unstarted.size();
  unstarted.clear();  // destroyed here, unrun, outside the lock
  bool all_exited;
  {
    std::unique_lock<std::mutex> lock(core_->mu);
    core_->idle_cv.wait_until(lock, deadline, [&] { return core_->running == 0; });
    report.abandoned = core_->running;
    all_exited = core_->running == 0;
  }
  // A thread with no task left exits at once; one still in a task keeps the core alive.
  for (std::thread& t : threads_) {
    if (all_exited) {
      t.join();
    } else {
      t.detach();
    }
  }
  threads_.clear();
  return report;
}

Status BlockingPool::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->stopping) return MakeError(ErrorCode::kUnavailable, "blocking pool stopped");
    if (core_->queue.size() >= options_.queue_capacity) {
      return MakeError(
          ErrorCode::kBackpressure,
          "blocking pool full (" + std::to_string(options_.queue_capacity) + " tasks waiting)");
    }
    core_->queue.push_back(std::move(task));
  }
  core_->work_cv.notify_one();
  return {};
}

std::size_t BlockingPool::queued() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->queue.size();
}

std::size_t BlockingPool::running() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->running;
}

void BlockingPool::Loop(const std::shared_ptr<Core>& core) {
  std::unique_lock<std::mutex> lock(core->mu);
  for (;;) {
    core->work_cv.wait(lock, [&] { return core->stopping || !core->queue.empty(); });
    if (core->queue.empty()) break;  // stopping, nothing left
    Task task = std::move(core->queue.front());
    core->queue.pop_front();
    ++core->running;
    lock.unlock();
    task();
    task = Task();  // what it captured goes before the pool may count it finished
    lock.lock();
    if (--core->running == 0 && core->stopping) core->idle_cv.notify_all();
  }
}

}  // namespace epos
