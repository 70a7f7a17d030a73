// Spec errors, collected so that every problem of a set of files is reported at once
// (DESIGN.md §3).
//
// A Diagnostic is one problem at one place, printed on one line as
//   orders.yaml:12:7: spec "pricing": field "kind": required
// The spec and field parts are left out when empty. Diagnostics keeps them in the order
// they were added (the loader adds them in document order) and turns them into one Error.
//
// Thread-safety: plain values; not internally synchronized.
#ifndef EPOS_SPEC_DIAGNOSTICS_H_
#define EPOS_SPEC_DIAGNOSTICS_H_

#include <string>
#include <utility>
#include <vector>

#include "epos/core/status.h"
#include "epos/spec/spec.h"

namespace epos {

struct Diagnostic {
  SourcePos pos;
  std::string spec;     // the spec's Label(); empty for file-level problems
  std::string field;    // dotted path ("kind", "ports.out.0.name"); empty for the spec itself
  std::string message;  // lower case, no trailing period: `required`, `must be a string`

  // One line, no newline: `file:line:column: spec "S": field "F": message`.
  std::string ToString() const;
};

class Diagnostics {
 public:
  void Add(Diagnostic d) { items_.push_back(std::move(d)); }
  void Add(SourcePos pos, std::string spec, std::string field, std::string message) {
    items_.push_back({std::move(pos), std::move(spec), std::move(field), std::move(message)});
  }
  void Append(const Diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  }

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }

  // Orders the diagnostics by position: files in the order they first appear, then line
  // and column; diagnostics at the same place keep their order (stable).
  void SortByPosition();

  // Every diagnostic on its own line, joined by '\n' (no trailing newline).
  std::string ToString() const;
  // kInvalidArgument with ToString() as the message. Call only when !empty().
  Error ToError() const;
  // Ok when empty, else ToError().
  [[nodiscard]] Status ToStatus() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace epos

#endif  // EPOS_SPEC_DIAGNOSTICS_H_
