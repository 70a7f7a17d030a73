// NamespaceTable: the active graph version of each namespace (DESIGN.md §4 hot reload).
//
// Activating a graph swaps it in atomically for its namespace: traces started afterwards
// get the new version from Find, traces in flight keep the shared_ptr they started with
// and finish on their version. A namespace whose new version failed to compile is simply
// not activated, so its previous version keeps running.
//
// Thread-safety: every method may be called from any thread at once. Find takes a short
// mutex and copies a shared_ptr; origins call it once per trace.
#ifndef EPOS_EXEC_NAMESPACES_H_
#define EPOS_EXEC_NAMESPACES_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "epos/graph/graph.h"

namespace epos {

class NamespaceTable {
 public:
  // Makes `graph` the active version of graph->name_space(); returns the version it
  // replaced (nullptr when the namespace is new).
  std::shared_ptr<const Graph> Activate(std::shared_ptr<const Graph> graph);
  // The active version, or nullptr.
  std::shared_ptr<const Graph> Find(std::string_view name_space) const;
  // Active namespaces, sorted.
  std::vector<std::string> names() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Graph>, std::less<>> active_;
};

}  // namespace epos

#endif  // EPOS_EXEC_NAMESPACES_H_
