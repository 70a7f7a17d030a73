#include "epos/spec/lua_guard.h"

#include <cassert>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace epos {
namespace {

class LuaGuard final : public Guard {
 public:
  LuaGuard(std::shared_ptr<const lua::Script> expression, Value env)
      : expression_(std::move(expression)), env_(std::move(env)) {
    assert(expression_ != nullptr && expression_->kind() == lua::ScriptKind::kExpression &&
           "a guard needs an expression");
  }

  bool Holds(const Value& payload) const override {
    Result<bool> holds = expression_->EvalCondition(payload, env_);
    // The engine turns this into a failure of the emitting node.
    if (!holds) throw std::runtime_error(holds.error().message);
    return *holds;
  }

  std::string_view text() const override { return expression_->source(); }

 private:
  const std::shared_ptr<const lua::Script> expression_;
  const Value env_;
};

}  // namespace

std::unique_ptr<Guard> MakeLuaGuard(std::shared_ptr<const lua::Script> expression, Value env) {
  return std::make_unique<LuaGuard>(std::move(expression), std::move(env));
}

}  // namespace epos
