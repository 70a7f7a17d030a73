// A plugin whose register function throws: LoadPlugin must report the exception's
// message and leave the scheme unchanged (it registers one kind before throwing).
#include <stdexcept>

#include "epos/nodes/control.h"
#include "epos/spec/plugin.h"

namespace {

epos::Status Register(epos::Scheme& scheme) {
  epos::Status s = scheme.Register({
      .name = "failing.first",
      .summary = "registered before the failure; must not survive it",
      .compile = [](epos::SpecDecoder&) { return epos::MakeNopNode(); },
  });
  if (!s) return s;
  throw std::runtime_error("failing plugin gave up");
}

}  // namespace

EPOS_PLUGIN(Register)
