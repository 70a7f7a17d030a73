#include "epos/spec/diagnostics.h"

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

Error Diagnostics::ToError() const { return Error{ErrorCode::kInvalidArgument, ToString()}; }

Status Diagnostics::ToStatus() const {
  if (items_.empty()) return {};
  return tl::unexpected<Error>(ToError());
}

}  // namespace epos
