// GraphReaper: the Runtime's GraphRetirer (graph.h). Graph versions whose last trace pin
// went away on a worker, an attached I/O thread or the timer thread are deleted here, on a
// thread of the reaper's own, so a node destructor that blocks (an HTTP client joining its
// I/O thread) never holds up a pulse or a request (private to src/exec).
//
// Thread-safety: Retire from any thread. Start and Stop from the Runtime's owner. After
// Stop, Retire deletes in place (the runtime's threads are gone by then).
#ifndef EPOS_SRC_EXEC_GRAPH_REAPER_H_
#define EPOS_SRC_EXEC_GRAPH_REAPER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "epos/graph/graph.h"

namespace epos::internal {

class GraphReaper final : public GraphRetirer {
 public:
  GraphReaper() = default;
  GraphReaper(const GraphReaper&) = delete;
  GraphReaper& operator=(const GraphReaper&) = delete;
  ~GraphReaper() override { Stop(); }

  void Start();
  void Retire(const Graph* graph) override;
  // Deletes what is still queued (on the calling thread, after the reaper thread finished
  // the one it is deleting) and joins. Idempotent.
  void Stop();

  // Waits until every graph retired before the call is deleted.
  void Flush();
  // Graphs deleted by the reaper thread or Stop, for tests.
  std::uint64_t reaped() const;

 private:
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;       // work for the reaper thread
  std::condition_variable idle_cv_;  // queue_ empty and nothing being deleted
  std::vector<const Graph*> queue_;  // guarded by mu_
  std::size_t deleting_ = 0;         // taken off queue_, not yet deleted; guarded by mu_
  bool running_ = false;             // guarded by mu_
  bool stopped_ = false;             // guarded by mu_
  std::uint64_t reaped_ = 0;         // guarded by mu_
  std::thread thread_;
};

}  // namespace epos::internal

#endif  // EPOS_SRC_EXEC_GRAPH_REAPER_H_
