// Helpers shared by the engine tests (tests/exec): sanitizer detection, a count-down
// latch with a timed wait (std::latch has none), and process CPU time.
#ifndef EPOS_TESTS_EXEC_EXEC_TEST_UTIL_H_
#define EPOS_TESTS_EXEC_EXEC_TEST_UTIL_H_

#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "epos/exec/trace.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define EPOS_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define EPOS_TEST_SANITIZED 1
#endif
#endif
#ifndef EPOS_TEST_SANITIZED
#define EPOS_TEST_SANITIZED 0
#endif

namespace epos::testing_util {

inline constexpr bool kSanitized = EPOS_TEST_SANITIZED != 0;

// Failure guard for waits: generous, and more so under sanitizers. Never used as a
// synchronisation delay; a wait that reaches it is a failed test.
inline constexpr std::chrono::seconds kWaitLimit{kSanitized ? 60 : 10};

// Counts down to zero; Wait returns true once it got there, false at the time limit.
class Latch {
 public:
  explicit Latch(std::int64_t count) : count_(count) {}
  void CountDown(std::int64_t n = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    count_ -= n;
    if (count_ <= 0) cv_.notify_all();
  }
  bool Wait(std::chrono::nanoseconds limit = kWaitLimit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return count_ <= 0; });
  }
  std::int64_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t count_;
};

// User plus system CPU time of the whole process.
inline std::chrono::microseconds ProcessCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& tv) {
    return static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
  };
  return std::chrono::microseconds(us(usage.ru_utime) + us(usage.ru_stime));
}

// Records one trace's outcome and completion, and checks they come once each, in order.
class Waiter final : public TraceObserver {
 public:
  void OnOutcome(TraceId id, Outcome outcome) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++outcomes_;
    if (completes_ > 0) out_of_order_ = true;
    id_ = id;
    outcome_ = std::move(outcome);
    cv_.notify_all();
  }
  void OnComplete(const TraceSummary& summary) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++completes_;
    if (outcomes_ == 0) out_of_order_ = true;
    summary_ = summary;
    cv_.notify_all();
  }
  bool WaitOutcome(std::chrono::nanoseconds limit = kWaitLimit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return outcomes_ > 0; });
  }
  bool WaitComplete(std::chrono::nanoseconds limit = kWaitLimit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return completes_ > 0; });
  }
  Outcome outcome() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcome_;
  }
  TraceSummary summary() {
    std::lock_guard<std::mutex> lock(mu_);
    return summary_;
  }
  TraceId id() {
    std::lock_guard<std::mutex> lock(mu_);
    return id_;
  }
  int outcomes() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcomes_;
  }
  int completes() {
    std::lock_guard<std::mutex> lock(mu_);
    return completes_;
  }
  bool out_of_order() {
    std::lock_guard<std::mutex> lock(mu_);
    return out_of_order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int outcomes_ = 0;
  int completes_ = 0;
  bool out_of_order_ = false;
  TraceId id_ = 0;
  Outcome outcome_;
  TraceSummary summary_;
};

}  // namespace epos::testing_util

#endif  // EPOS_TESTS_EXEC_EXEC_TEST_UTIL_H_
