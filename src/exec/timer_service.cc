#include "epos/exec/timer_service.h"

#include <vector>

#include <boost/asio/post.hpp>

namespace epos {

TimerService::TimerService() : work_(io_.get_executor()), timer_(io_) {}

TimerService::~TimerService() { Stop(); }

void TimerService::Start() {
  thread_ = std::thread([this] { io_.run(); });
}

void TimerService::Stop() {
  std::map<Key, Callback> flushed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    flushed.swap(pending_);
  }
  work_.reset();
  boost::asio::post(io_, [this] { timer_.cancel(); });
  if (thread_.joinable()) thread_.join();
  for (auto& [key, callback] : flushed) callback(false);
}

TimerService::Handle TimerService::Schedule(Clock::time_point deadline, Callback callback) {
  Handle handle;
  bool rearm = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_) {
      lock.unlock();
      callback(false);
      return handle;
    }
    handle = {deadline, next_id_++};
    pending_.emplace(Key{deadline, handle.id}, std::move(callback));
    if (deadline < armed_for_) {
      armed_for_ = deadline;
      rearm = true;
    }
  }
  if (rearm) boost::asio::post(io_, [this] { Arm(); });
  return handle;
}

bool TimerService::Cancel(const Handle& handle) {
  if (handle.id == 0) return false;
  Callback doomed;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(Key{handle.deadline, handle.id});
  if (it == pending_.end()) return false;
  doomed = std::move(it->second);
  pending_.erase(it);
  return true;
}

std::size_t TimerService::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

void TimerService::Arm() {
  Clock::time_point earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.empty()) {
      armed_for_ = Clock::time_point::max();
      return;
    }
    earliest = pending_.begin()->first.first;
    armed_for_ = earliest;
  }
  timer_.expires_at(earliest);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) OnExpiry();
  });
}

void TimerService::OnExpiry() {
  std::vector<Callback> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Clock::time_point now = Clock::now();
    while (!pending_.empty() && pending_.begin()->first.first <= now) {
      due.push_back(std::move(pending_.begin()->second));
      pending_.erase(pending_.begin());
    }
  }
  for (Callback& callback : due) callback(true);
  Arm();
}

}  // namespace epos
