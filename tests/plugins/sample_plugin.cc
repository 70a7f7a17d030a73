// The sample node kind plugin used by tests/spec/plugin_test.cc (and an example of
// plugin.h): `sample.upper` upper-cases a string payload and appends `suffix`.
#include <cctype>
#include <memory>
#include <string>

#include "epos/nodes/control.h"
#include "epos/spec/plugin.h"

namespace {

std::unique_ptr<epos::Node> CompileUpper(epos::SpecDecoder& d) {
  std::optional<std::string> suffix = d.String("suffix", epos::Need::kOptional);
  if (!d.ok()) return nullptr;
  return epos::MakeFunctionNode(
      [suffix = suffix.value_or("")](epos::Context& ctx, epos::PortIndex, epos::Value payload) {
        if (!payload.IsString()) {
          ctx.Fail("sample.upper expects a string, got " +
                   std::string(epos::ValueKindName(payload.kind())));
          return;
        }
        std::string s(payload.AsString());
        for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        ctx.Emit(0, epos::Value(s + suffix));
      });
}

epos::Status Register(epos::Scheme& scheme) {
  return scheme.Register({
      .name = "sample.upper",
      .summary = "upper-cases a string payload and appends suffix",
      .fields = {"suffix"},
      .compile = &CompileUpper,
  });
}

}  // namespace

EPOS_PLUGIN(Register)
