// What an origin sees of a trace: its id, options, and outcome (DESIGN.md §4).
//
// An origin (HTTP request, timer tick, `epos call`, a process) starts a trace and gets
// exactly one Outcome: the first reply, the trace's failure, or "no reply" when the
// trace completes without either. Completion (all state freed) is reported separately,
// after the outcome.
#ifndef EPOS_EXEC_TRACE_H_
#define EPOS_EXEC_TRACE_H_

#include <chrono>
#include <cstdint>

#include "epos/core/value.h"

namespace epos {

using TraceId = std::uint64_t;

inline constexpr std::uint32_t kDefaultHopBudget = 100000;

struct TraceOptions {
  // Zero: no deadline. Past it the trace fails with "deadline exceeded".
  std::chrono::nanoseconds timeout{0};
  // Pulses the trace may process before it fails; loops are bounded by this.
  std::uint32_t hop_budget = kDefaultHopBudget;
};

struct Outcome {
  enum class Kind : std::uint8_t {
    kReply,    // value: the reply payload
    kNoReply,  // the trace completed without replying
    kError,    // value: {error, node, kind} (plus extra fields such as missing)
  };
  Kind kind = Kind::kNoReply;
  Value value;
};

// True when `error` (an Outcome::kError value) is the failure of a trace that passed its
// deadline ("deadline of 2s exceeded"), which an HTTP origin answers 504, not 500.
bool IsDeadlineError(const Value& error);

// Figures of a completed trace.
struct TraceSummary {
  TraceId id = 0;
  std::uint64_t hops = 0;          // pulses processed
  std::uint32_t late_replies = 0;  // replies after the first (counted, not sent)
  bool failed = false;
};

// Receives a trace's outcome and completion. Both are called exactly once, in that
// order, on whichever thread settles them (a worker, the timer thread), never under a
// runtime lock. The observer must outlive the trace; one observer may serve many traces.
class TraceObserver {
 public:
  virtual ~TraceObserver() = default;
  virtual void OnOutcome(TraceId trace, Outcome outcome) = 0;
  virtual void OnComplete(const TraceSummary& summary) { (void)summary; }
};

}  // namespace epos

#endif  // EPOS_EXEC_TRACE_H_
