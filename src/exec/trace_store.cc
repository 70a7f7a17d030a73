#include "epos/exec/trace_store.h"

#include "trace_internal.h"

namespace epos {

TraceStore::TraceStore(unsigned shards) : shards_(shards + 1) {}

TraceStore::~TraceStore() {
  for (Shard& s : shards_) {
    for (internal::Trace* t : s.free) delete t;
  }
}

std::int64_t TraceStore::live() const {
  std::int64_t n = 0;
  for (const Shard& s : shards_) {
    n += static_cast<std::int64_t>(s.started.load(kRelaxed)) -
         static_cast<std::int64_t>(s.completed.load(kRelaxed));
  }
  return n;
}

std::int64_t TraceStore::state_entries() const {
  std::int64_t n = 0;
  for (const Shard& s : shards_) n += s.state_created.load(kRelaxed) - s.state_freed.load(kRelaxed);
  return n;
}

std::uint64_t TraceStore::started() const {
  std::uint64_t n = 0;
  for (const Shard& s : shards_) n += s.started.load(kRelaxed);
  return n;
}

std::uint64_t TraceStore::completed() const {
  std::uint64_t n = 0;
  for (const Shard& s : shards_) n += s.completed.load(kRelaxed);
  return n;
}

std::uint64_t TraceStore::failed() const {
  std::uint64_t n = 0;
  for (const Shard& s : shards_) n += s.failed.load(kRelaxed);
  return n;
}

std::size_t TraceStore::TraceBytes() { return sizeof(internal::Trace); }

internal::Trace* TraceStore::Allocate(unsigned shard) {
  Shard& s = shards_[shard];
  internal::Trace* trace = nullptr;
  {
    std::unique_lock<std::mutex> lock(external_mu_, std::defer_lock);
    if (shard == external_shard()) lock.lock();
    if (!s.free.empty()) {
      trace = s.free.back();
      s.free.pop_back();
    }
  }
  if (trace == nullptr) trace = new internal::Trace();
  trace->shard = shard;
  // Ids are unique per runtime: shard in the top 16 bits, a per-shard sequence below.
  std::uint64_t seq;
  if (shard == external_shard()) {
    seq = s.next_id.fetch_add(1, kRelaxed) + 1;
  } else {
    seq = s.next_id.load(kRelaxed) + 1;
    s.next_id.store(seq, kRelaxed);
  }
  trace->id = (static_cast<TraceId>(shard) << 48) | seq;
  Bump<std::uint64_t>(shard, s.started, 1);
  return trace;
}

void TraceStore::OnComplete(unsigned shard, bool failed) {
  Shard& s = shards_[shard];
  if (failed) Bump<std::uint64_t>(shard, s.failed, 1);
  // Release: a reader that sees the count drop also sees the trace's state freed.
  if (shard == external_shard()) {
    s.completed.fetch_add(1, std::memory_order_release);
  } else {
    s.completed.store(s.completed.load(kRelaxed) + 1, std::memory_order_release);
  }
}

void TraceStore::Release(internal::Trace* trace, unsigned shard) {
  // refs == 1: no timer holds the record (only the completion does), skip the locked op.
  if (trace->refs.load(std::memory_order_acquire) != 1 &&
      trace->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) {
    return;
  }
  trace->Reset();
  Shard& s = shards_[shard];
  std::unique_lock<std::mutex> lock(external_mu_, std::defer_lock);
  if (shard == external_shard()) lock.lock();
  if (s.free.size() < kFreeListCap) {
    s.free.push_back(trace);
  } else {
    delete trace;
  }
}

}  // namespace epos
