// `{{ .NAME }}` templates in spec strings (DESIGN.md §3).
//
// A template is `{{`, optional blanks, `.`, a name [A-Za-z_][A-Za-z0-9_]*, optional
// blanks, `}}`; any other `{{ ... }}` text (a log message's own template syntax, say) is
// left alone, and there is no escape. Substituted text is not scanned again.
//
// ExpandTemplates fills the templates of one spec:
//  1. Each env entry is resolved: `{name: V}` → the data of value V in the spec's
//     namespace; `{data: D}` → D with its own templates filled, where `{{ .X }}` names
//     env entry X of the same spec (X != this entry; a cycle of such references is an
//     error naming it) or, for X == this entry or X without an entry, the outer scope.
//  2. The outer scope is `-e X=...` (TemplateBindings::overrides), then the value named X
//     in the spec's namespace.
//  3. Every string in `fields` (recursively; map keys excluded) and every target's `when`
//     has `{{ .NAME }}` replaced by env entry NAME, or from the outer scope when the spec
//     has no entry NAME.
// A value's data is substituted as text: a string as is, null as "", anything else as
// compact JSON. The resolved env is stored in Spec::env_values. Kind, name, namespace,
// id, annotations and target names are not templated. An unresolved name is an error at
// the field that uses it; an env entry that fails is reported once, at the entry.
//
// Thread-safety: TemplateBindings is immutable once built and may then be shared by
// threads expanding different specs.
#ifndef EPOS_SPEC_TEMPLATE_H_
#define EPOS_SPEC_TEMPLATE_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/value.h"
#include "epos/spec/diagnostics.h"
#include "epos/spec/spec.h"

namespace epos {

// What templates draw on besides a spec's own env: `-e` overrides and stored values.
class TemplateBindings {
 public:
  // Binds NAME (from `-e NAME=VALUE`); a later binding of the same name wins.
  void SetOverride(std::string name, std::string value) {
    overrides_[std::move(name)] = std::move(value);
  }
  // Parses `NAME=VALUE` (split at the first '='; NAME as an env name) and binds it.
  // Errors: kInvalidArgument `-e "TEXT": expected NAME=VALUE` or `bad name "N"`.
  [[nodiscard]] Status AddOverride(std::string_view assignment);

  // Adds values by (namespace, name); values without a name (id only) are ignored.
  // Duplicates: kInvalidArgument `pos: value "N" in namespace "NS" already defined at
  // pos`; the earlier value stays.
  [[nodiscard]] Status AddValues(const std::vector<ValueSpec>& values);

  const std::string* FindOverride(std::string_view name) const;
  const ValueSpec* FindValue(std::string_view name_space, std::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> overrides_;
  std::map<std::pair<std::string, std::string>, ValueSpec, std::less<>> values_;
};

// Expands `spec` in place (see above) and fills spec.env_values. Problems are appended to
// `diags`; on problems the spec is left partly expanded.
void ExpandTemplates(Spec& spec, const TemplateBindings& bindings, Diagnostics& diags);

// Expands every spec; kInvalidArgument with all diagnostics when any fails.
[[nodiscard]] Status ExpandTemplates(std::vector<Spec>& specs, const TemplateBindings& bindings);

// The text a value's data contributes to a template: a string as is, null as "", other
// values as compact JSON.
std::string TemplateText(const Value& data);

}  // namespace epos

#endif  // EPOS_SPEC_TEMPLATE_H_
