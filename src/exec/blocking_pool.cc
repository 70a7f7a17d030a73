#include "epos/exec/blocking_pool.h"

namespace epos {

BlockingPool::BlockingPool(BlockingPoolOptions options) : options_(options) {}

BlockingPool::~BlockingPool() { Stop(); }

void BlockingPool::Start() {
  for (unsigned i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Loop(); });
}

void BlockingPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // Never started: run nothing, but release what the tasks own.
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
}

Status BlockingPool::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return MakeError(ErrorCode::kUnavailable, "blocking pool stopped");
    if (queue_.size() >= options_.queue_capacity) {
      return MakeError(
          ErrorCode::kBackpressure,
          "blocking pool full (" + std::to_string(options_.queue_capacity) + " tasks waiting)");
    }
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return {};
}

std::size_t BlockingPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BlockingPool::Loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace epos
