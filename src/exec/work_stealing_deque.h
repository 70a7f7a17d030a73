// A Chase–Lev work-stealing deque of pulses (private header of the scheduler).
//
// Algorithm: D. Chase and Y. Lev, "Dynamic Circular Work-Stealing Deque", SPAA 2005,
// with the C11 memory orderings of N. M. Lê, A. Pop, A. Cohen and F. Zappa Nardelli,
// "Correct and Efficient Work-Stealing for Weak Memory Models", PPoPP 2013. The fences
// of that paper are folded into seq_cst operations on top/bottom (same cost on x86, and
// visible to ThreadSanitizer, which does not model standalone fences).
//
// Thread-safety: Push and Pop by the owning worker only; Steal from any thread.
// Slots hold a Pulse as four relaxed atomic words, so a thief may read a slot the owner
// is rewriting without a data race; the CAS on top_ decides whether the read counts.
// Invariants: top_ <= bottom_ + 1; slots [top_, bottom_) hold pulses; a grown array
// replaces the old one, which is retired (kept until destruction) because a thief may
// still be reading it.
#ifndef EPOS_SRC_EXEC_WORK_STEALING_DEQUE_H_
#define EPOS_SRC_EXEC_WORK_STEALING_DEQUE_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "epos/exec/pulse.h"

namespace epos::internal {

class WorkStealingDeque {
 public:
  explicit WorkStealingDeque(std::int64_t capacity = 1024) {
    auto* a = NewArray(capacity);
    array_.store(a, std::memory_order_relaxed);
    arrays_.emplace_back(a);
  }
  WorkStealingDeque(const WorkStealingDeque&) = delete;
  WorkStealingDeque& operator=(const WorkStealingDeque&) = delete;

  // Owner only.
  void Push(const Pulse& pulse) {
    std::int64_t b = bottom_.load(std::memory_order_relaxed);
    std::int64_t t = top_.load(std::memory_order_acquire);
    Array* a = array_.load(std::memory_order_relaxed);
    if (b - t > a->capacity - 1) a = Grow(a, t, b);
    a->Put(b, pulse);
    bottom_.store(b + 1, std::memory_order_release);
  }

  // Owner only; LIFO end.
  bool Pop(Pulse& out) {
    std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    Array* a = array_.load(std::memory_order_relaxed);
    bottom_.store(b, std::memory_order_seq_cst);
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    if (t > b) {  // empty
      bottom_.store(b + 1, std::memory_order_relaxed);
      return false;
    }
    out = a->Get(b);
    if (t == b) {  // last element: race the thieves for it
      bool won = top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                              std::memory_order_relaxed);
      bottom_.store(b + 1, std::memory_order_relaxed);
      return won;
    }
    return true;
  }

  // Owner only: takes up to `max` pulses (and at most half the deque) from the LIFO end
  // with one fence; returns how many, 0 when fewer than 2 would do (use Pop then).
  // out[0] is the newest.
  // Why no thief can take a slot we took: we publish bottom = b - k, then read top = t.
  // A thief takes slot j only after reading top == j and then bottom > j. If its top
  // read came after ours in the seq_cst order, its bottom read also follows our store
  // and sees at most b - k <= j: it backs off. If it came before ours, j <= t, and we
  // keep the batch only when t < b - k, so j is not ours.
  int PopBatch(Pulse* out, int max) {
    std::int64_t b = bottom_.load(std::memory_order_relaxed);
    std::int64_t t = top_.load(std::memory_order_relaxed);
    // At most half of what is queued, so thieves keep the other half.
    const int k = static_cast<int>(std::min<std::int64_t>(max, (b - t) / 2));
    if (k < 2) return 0;
    Array* a = array_.load(std::memory_order_relaxed);
    const std::int64_t nb = b - k;
    bottom_.store(nb, std::memory_order_seq_cst);
    t = top_.load(std::memory_order_seq_cst);
    if (t >= nb) {  // thieves got close: give the slots back
      bottom_.store(b, std::memory_order_seq_cst);
      return 0;
    }
    for (int i = 0; i < k; ++i) out[i] = a->Get(b - 1 - i);
    return k;
  }

  // Any thread; FIFO end.
  bool Steal(Pulse& out) {
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    std::int64_t b = bottom_.load(std::memory_order_seq_cst);
    if (t >= b) return false;
    Array* a = array_.load(std::memory_order_acquire);
    Pulse p = a->Get(t);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
      return false;
    }
    out = p;
    return true;
  }

 private:
  static constexpr int kWords = sizeof(Pulse) / sizeof(std::uint64_t);

  struct Array {
    std::int64_t capacity;
    std::int64_t mask;
    std::unique_ptr<std::atomic<std::uint64_t>[]> words;

    static_assert(kWords == 4, "Put/Get copy a pulse as four words");
    void Put(std::int64_t i, const Pulse& p) {
      std::uint64_t raw[kWords];
      std::memcpy(raw, &p, sizeof(Pulse));
      std::atomic<std::uint64_t>* slot = &words[(i & mask) * kWords];
      slot[0].store(raw[0], std::memory_order_relaxed);
      slot[1].store(raw[1], std::memory_order_relaxed);
      slot[2].store(raw[2], std::memory_order_relaxed);
      slot[3].store(raw[3], std::memory_order_relaxed);
    }
    Pulse Get(std::int64_t i) const {
      std::uint64_t raw[kWords];
      const std::atomic<std::uint64_t>* slot = &words[(i & mask) * kWords];
      raw[0] = slot[0].load(std::memory_order_relaxed);
      raw[1] = slot[1].load(std::memory_order_relaxed);
      raw[2] = slot[2].load(std::memory_order_relaxed);
      raw[3] = slot[3].load(std::memory_order_relaxed);
      Pulse p;
      std::memcpy(&p, raw, sizeof(Pulse));
      return p;
    }
  };

  static Array* NewArray(std::int64_t capacity) {
    auto* a = new Array{capacity, capacity - 1,
                        std::make_unique<std::atomic<std::uint64_t>[]>(capacity * kWords)};
    return a;
  }

  Array* Grow(Array* old, std::int64_t t, std::int64_t b) {
    Array* a = NewArray(old->capacity * 2);
    for (std::int64_t i = t; i < b; ++i) a->Put(i, old->Get(i));
    arrays_.emplace_back(a);
    array_.store(a, std::memory_order_release);
    return a;
  }

  alignas(64) std::atomic<std::int64_t> top_{0};
  alignas(64) std::atomic<std::int64_t> bottom_{0};
  std::atomic<Array*> array_{nullptr};
  std::vector<std::unique_ptr<Array>> arrays_;  // owner only; all arrays ever used
};

}  // namespace epos::internal

#endif  // EPOS_SRC_EXEC_WORK_STEALING_DEQUE_H_
