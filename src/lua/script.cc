#include "epos/lua/script.h"

#include <atomic>
#include <cassert>
#include <utility>

#include <lua.hpp>

namespace epos::lua {
namespace {

std::atomic<std::uint64_t> g_next_script_id{1};

// A bare state (no libraries) per thread for Check: compiling runs no code.
lua_State* ScratchState() {
  struct Holder {
    lua_State* L = luaL_newstate();
    ~Holder() { lua_close(L); }
  };
  thread_local Holder holder;
  return holder.L;
}

}  // namespace

Script::Script(ScriptKind kind, std::string source, std::string file, int first_line)
    : kind_(kind),
      id_(g_next_script_id.fetch_add(1, std::memory_order_relaxed)),
      first_line_(first_line < 1 ? 1 : first_line),
      source_(std::move(source)),
      file_(std::move(file)),
      alive_(std::make_shared<const char>('\0')) {
  // Leading newlines make chunk line N the spec's line N, for compile and run-time errors
  // alike, with no rewriting of Lua's messages.
  chunk_.reserve(static_cast<std::size_t>(first_line_ - 1) + source_.size() + 40);
  chunk_.assign(static_cast<std::size_t>(first_line_ - 1), '\n');
  if (kind_ == ScriptKind::kExpression) {
    chunk_ += "local payload = ...; return (";
    chunk_ += source_;
    // A trailing `--` comment would swallow the parenthesis.
    chunk_ += source_.find("--") == std::string::npos ? ")" : "\n)";
  } else {
    chunk_ += source_;
  }
  chunk_name_ = "@" + file_;
}

Status Script::Check() const {
  lua_State* L = ScratchState();
  if (L == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a Lua state");
  int status = luaL_loadbufferx(L, chunk_.data(), chunk_.size(), chunk_name_.c_str(), "t");
  Status result;
  if (status != LUA_OK) {
    std::size_t size = 0;
    const char* text = lua_tolstring(L, -1, &size);
    result = MakeError(ErrorCode::kInvalidArgument,
                       text != nullptr ? std::string(text, size) : file_ + ": cannot compile");
  }
  lua_settop(L, 0);
  return result;
}

Result<bool> Script::EvalCondition(Vm& vm, const Value& payload, const Value& env) const {
  assert(kind_ == ScriptKind::kExpression && "EvalCondition needs an expression");
  bool truthy = false;
  Status status = vm.Run(*this, Vm::Mode::kCondition, payload, env, &truthy, nullptr, nullptr);
  if (!status) return tl::unexpected(std::move(status.error()));
  return truthy;
}

Result<Value> Script::Evaluate(Vm& vm, const Value& payload, const Value& env) const {
  assert(kind_ == ScriptKind::kExpression && "Evaluate needs an expression");
  std::optional<Value> value;
  Status status = vm.Run(*this, Vm::Mode::kEvaluate, payload, env, nullptr, &value, nullptr);
  if (!status) return tl::unexpected(std::move(status.error()));
  return value ? std::move(*value) : Value();
}

Result<SnippetResult> Script::CallSnippet(Vm& vm, const Value& payload, const Value& env,
                                          std::chrono::nanoseconds timeout) const {
  assert(kind_ == ScriptKind::kSnippet && "CallSnippet needs a snippet");
  SnippetResult out;
  Status status =
      vm.Run(*this, Vm::Mode::kSnippet, payload, env, nullptr, &out.result, &out.emitted, timeout);
  if (!status) return tl::unexpected(std::move(status.error()));
  return out;
}

}  // namespace epos::lua
