#include "epos/spec/diagnostics.h"

#include <algorithm>
#include <map>

namespace epos {

std::string Diagnostic::ToString() const {
  std::string out = pos.ToString();
  out += ": ";
  if (!spec.empty()) {
    out += "spec \"";
    out += spec;
    out += "\": ";
  }
  if (!field.empty()) {
    out += "field \"";
    out += field;
    out += "\": ";
  }
  out += message;
  return out;
}

std::string Diagnostics::ToString() const {
  std::string out;
  for (const Diagnostic& d : items_) {
    if (!out.empty()) out += '\n';
    out += d.ToString();
  }
  return out;
}

void Diagnostics::SortByPosition() {
  std::map<std::string, std::size_t, std::less<>> file_rank;
  for (const Diagnostic& d : items_) file_rank.emplace(d.pos.file, file_rank.size());
  std::stable_sort(items_.begin(), items_.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    std::size_t fa = file_rank[a.pos.file], fb = file_rank[b.pos.file];
    if (fa != fb) return fa < fb;
    if (a.pos.line != b.pos.line) return a.pos.line < b.pos.line;
    return a.pos.column < b.pos.column;
  });
}

Error Diagnostics::ToError() const { return Error{ErrorCode::kInvalidArgument, ToString()}; }

Status Diagnostics::ToStatus() const {
  if (items_.empty()) return {};
  return tl::unexpected<Error>(ToError());
}

}  // namespace epos
