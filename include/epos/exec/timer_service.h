// TimerService: timers on an Asio io_context with its own thread (DESIGN.md §2).
//
// Schedule(deadline, callback) runs the callback on the timer thread at or after the
// deadline (steady clock). Pending timers sit in an ordered map; one asio::steady_timer
// is armed for the earliest, so an idle service sleeps in epoll and uses no CPU.
// Cancel removes a pending timer in O(log n) and reports whether it was still pending.
// Stop() runs every pending callback at once with `fired == false` (so operations that
// wait on a timer still finish), then joins the thread.
//
// Thread-safety: Schedule and Cancel from any thread; callbacks run on the timer thread
// without the service's lock held, so they may schedule or cancel timers.
#ifndef EPOS_EXEC_TIMER_SERVICE_H_
#define EPOS_EXEC_TIMER_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "epos/core/unique_function.h"

namespace epos {

class TimerService {
 public:
  using Clock = std::chrono::steady_clock;
  // fired: true at the deadline, false when flushed by Stop.
  using Callback = UniqueFunction<void(bool fired)>;

  struct Handle {
    Clock::time_point deadline{};
    std::uint64_t id = 0;  // 0: no timer
  };

  TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;
  ~TimerService();

  void Start();
  void Stop();

  Handle Schedule(Clock::time_point deadline, Callback callback);
  Handle After(std::chrono::nanoseconds delay, Callback callback) {
    return Schedule(Clock::now() + delay, std::move(callback));
  }
  // True when the timer was pending and is now removed (its callback will not run).
  bool Cancel(const Handle& handle);

  std::size_t pending() const;

 private:
  using Key = std::pair<Clock::time_point, std::uint64_t>;

  void Arm();       // timer thread
  void OnExpiry();  // timer thread

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer timer_;  // touched only on the timer thread
  std::thread thread_;

  mutable std::mutex mu_;
  std::map<Key, Callback> pending_;  // guarded by mu_
  std::uint64_t next_id_ = 1;        // guarded by mu_
  // Deadline the asio timer is armed for (max when unarmed); guarded by mu_.
  Clock::time_point armed_for_ = Clock::time_point::max();
  bool stopped_ = false;  // guarded by mu_
};

}  // namespace epos

#endif  // EPOS_EXEC_TIMER_SERVICE_H_
