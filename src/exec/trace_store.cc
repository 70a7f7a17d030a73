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
  trace->id = (static_cast<TraceId>(shard) << 48) | (s.next_id.fetch_add(1, kRelaxed) + 1);
  s.started.fetch_add(1, kRelaxed);
  return trace;
}

void TraceStore::OnComplete(unsigned shard, bool failed) {
  Shard& s = shards_[shard];
  if (failed) s.failed.fetch_add(1, kRelaxed);
  // Release: a reader that sees the count drop also sees the trace's state freed.
  s.completed.fetch_add(1, std::memory_order_release);
}

void TraceStore::Release(internal::Trace* trace, unsigned shard) {
  if (trace->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
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
