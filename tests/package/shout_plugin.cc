// tests/package: a node kind plugin built outside EPOS against epos::plugin_api.
// `package.shout` upper-cases a string payload and appends `suffix`.
#include <cctype>
#include <memory>
#include <optional>
#include <string>

#include "epos/nodes/control.h"
#include "epos/spec/plugin.h"

namespace {

std::unique_ptr<epos::Node> CompileShout(epos::SpecDecoder& d) {
  std::optional<std::string> suffix = d.String("suffix", epos::Need::kOptional);
  if (!d.ok()) return nullptr;
  return epos::MakeFunctionNode(
      [suffix = suffix.value_or("")](epos::Context& ctx, epos::PortIndex, epos::Value payload) {
        if (!payload.IsString()) {
          ctx.Fail("package.shout expects a string");
          return;
        }
        std::string s(payload.AsString());
        for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        ctx.Emit(0, epos::Value(s + suffix));
      });
}

epos::Status Register(epos::Scheme& scheme) {
  return scheme.Register({
      .name = "package.shout",
      .summary = "upper-cases a string payload and appends suffix",
      .fields = {"suffix"},
      .compile = &CompileShout,
  });
}

}  // namespace

EPOS_PLUGIN(Register)
