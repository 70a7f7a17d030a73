#include "graph_reaper.h"

#include <utility>

namespace epos::internal {

void GraphReaper::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ || stopped_) return;
  running_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void GraphReaper::Retire(const Graph* graph) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) {
      queue_.push_back(graph);
      cv_.notify_one();
      return;
    }
    ++reaped_;
  }
  delete graph;  // never started, or stopped: no worker is left to spare
}

void GraphReaper::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !queue_.empty() || !running_; });
    if (queue_.empty()) return;  // stopping, and everything queued is deleted
    std::vector<const Graph*> batch;
    batch.swap(queue_);
    deleting_ = batch.size();
    lock.unlock();
    for (const Graph* g : batch) delete g;
    lock.lock();
    reaped_ += batch.size();
    deleting_ = 0;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

void GraphReaper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    running_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GraphReaper::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && deleting_ == 0; });
}

std::uint64_t GraphReaper::reaped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reaped_;
}

}  // namespace epos::internal
