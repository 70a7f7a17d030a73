// Pulse: the unit of work of a trace (DESIGN.md §1), and Job: any other unit of work the
// scheduler runs (process steps, completions, origins that feed traces).
//
// A Pulse is 32 trivially copyable bytes so work-stealing deques can move it by words:
// the payload's bits (its reference is owned by the pulse), destination node and input
// port, the frame it belongs to (scope + index; the scope knows its trace), and the
// number of hops since the trace last committed its hop count (see Runtime).
//
// Thread-safety: a Pulse is owned by exactly one queue slot or worker at a time.
#ifndef EPOS_EXEC_PULSE_H_
#define EPOS_EXEC_PULSE_H_

#include <cstdint>
#include <type_traits>

#include "epos/core/value.h"
#include "epos/graph/port.h"

namespace epos {

namespace internal {
struct Scope;
}  // namespace internal

class Worker;

// Work that is not a pulse. Run is called once, on a worker; the job owns itself
// (deletes itself, re-submits itself, or is owned elsewhere).
class Job {
 public:
  virtual ~Job() = default;
  virtual void Run(Worker& worker) = 0;
};

struct Pulse {
  std::uint64_t payload_bits;
  ValueKind payload_kind;
  std::uint8_t flags;  // kJobFlag: this slot carries a Job*, not a pulse
  PortIndex port;      // input port of `node`
  NodeId node;
  internal::Scope* scope;  // the innermost frame's scope; for jobs, the Job*
  std::uint32_t index;     // element index within the scope (0 at the trace root)
  std::uint32_t segment;   // hops since the last commit to the trace's hop count

  static constexpr std::uint8_t kJobFlag = 1;
  // The target node is ordered: when emitted, the pulse waits its turn in the trace's
  // queue for that node; when run, it holds the node's turn until it finishes.
  static constexpr std::uint8_t kOrderedFlag = 2;

  static Pulse ForJob(Job* job) {
    Pulse p{};
    p.flags = kJobFlag;
    p.scope = reinterpret_cast<internal::Scope*>(job);  // NOLINT
    return p;
  }
  bool is_job() const { return (flags & kJobFlag) != 0; }
  Job* job() const { return reinterpret_cast<Job*>(scope); }  // NOLINT

  Value TakePayload() {
    Value v = Value::Adopt(RawValue{payload_bits, payload_kind});
    payload_kind = ValueKind::kNull;
    payload_bits = 0;
    return v;
  }
  void SetPayload(Value v) {
    RawValue raw = std::move(v).Leak();
    payload_bits = raw.bits;
    payload_kind = raw.kind;
  }
};

static_assert(sizeof(Pulse) == 32);
static_assert(std::is_trivially_copyable_v<Pulse>);

}  // namespace epos

#endif  // EPOS_EXEC_PULSE_H_
