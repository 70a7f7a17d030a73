// TraceStore: owns the live traces of a runtime and their per-(trace, node) state
// (DESIGN.md §1 "trace-state store").
//
// Traces are allocated when an origin starts them and freed, with all their state, the
// moment their active count reaches zero. The store is sharded by worker (plus one shard
// for threads outside the pool): each shard counts the traces and state entries it
// created and freed on its own cache line, so the counters never bounce between cores.
// State entries live inside their trace, under the trace's own lock, so two traces never
// contend and freeing a trace frees its state in one sweep.
//
// Trace records are recycled through a free list per shard (at most kFreeListCap each),
// used only by that shard's worker; the external shard's list takes a mutex.
//
// Thread-safety: counters are atomics; readings are exact once the runtime is quiet and
// approximate while it runs. Allocate/Release for a worker shard only on that worker.
#ifndef EPOS_EXEC_TRACE_STORE_H_
#define EPOS_EXEC_TRACE_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "epos/exec/trace.h"

namespace epos {

namespace internal {
struct Trace;
}  // namespace internal

class TraceStore {
 public:
  explicit TraceStore(unsigned shards);
  TraceStore(const TraceStore&) = delete;
  TraceStore& operator=(const TraceStore&) = delete;
  ~TraceStore();

  // Traces started and not yet complete.
  std::int64_t live() const;
  // Per-(trace, node) state entries currently held.
  std::int64_t state_entries() const;
  std::uint64_t started() const;
  std::uint64_t completed() const;
  std::uint64_t failed() const;
  // Bytes of one trace record, without payloads or state entries.
  static std::size_t TraceBytes();

  // Runtime side.
  internal::Trace* Allocate(unsigned shard);
  void OnComplete(unsigned shard, bool failed);
  void OnStateCreated(unsigned shard) {
    Bump<std::int64_t>(shard, shards_[shard].state_created, 1);
  }
  void OnStatesFreed(unsigned shard, std::int64_t n) {
    Bump<std::int64_t>(shard, shards_[shard].state_freed, n);
  }
  // Drops one memory reference; at zero the record goes back to `shard`'s free list.
  // `shard` is the caller's own (a worker's index, or external_shard() elsewhere).
  void Release(internal::Trace* trace, unsigned shard);
  unsigned external_shard() const { return static_cast<unsigned>(shards_.size() - 1); }

 private:
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
  static constexpr std::size_t kFreeListCap = 4096;
  struct alignas(64) Shard {
    std::vector<internal::Trace*> free;  // recycled records; see the class comment
    std::atomic<std::uint64_t> started{0};
    std::atomic<std::uint64_t> completed{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::int64_t> state_created{0};
    std::atomic<std::int64_t> state_freed{0};
    std::atomic<std::uint64_t> next_id{0};
  };
  // A worker shard has one writer, its worker: a load and a store, no locked add. The
  // external shard has many writers and adds atomically.
  template <class T>
  void Bump(unsigned shard, std::atomic<T>& counter, T n) {
    if (shard == external_shard()) {
      counter.fetch_add(n, kRelaxed);
    } else {
      counter.store(counter.load(kRelaxed) + n, kRelaxed);
    }
  }

  std::vector<Shard> shards_;
  std::mutex external_mu_;  // guards shards_.back().free
};

}  // namespace epos

#endif  // EPOS_EXEC_TRACE_STORE_H_
