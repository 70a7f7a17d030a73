#include "epos/exec/namespaces.h"

#include <utility>

namespace epos {

std::shared_ptr<const Graph> NamespaceTable::Activate(std::shared_ptr<const Graph> graph) {
  std::string name(graph->name_space());
  std::shared_ptr<const Graph> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<const Graph>& slot = active_[name];
    previous = std::exchange(slot, std::move(graph));
  }
  return previous;  // released outside the lock: it may be the last owner
}

std::shared_ptr<const Graph> NamespaceTable::Find(std::string_view name_space) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(name_space);
  return it == active_.end() ? nullptr : it->second;
}

std::vector<std::string> NamespaceTable::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, graph] : active_) out.push_back(name);
  return out;
}

}  // namespace epos
