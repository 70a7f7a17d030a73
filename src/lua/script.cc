#include "epos/lua/script.h"

#include <atomic>
#include <cassert>
#include <cstring>
#include <limits>
#include <utility>

#include <lua.hpp>

namespace epos::lua {
namespace {

std::atomic<std::uint64_t> g_next_script_id{1};

// What expressions are compiled in: `...` is the payload.
constexpr std::string_view kExpressionPrologue = "local payload = ...; ";

// A bare state (no libraries) per thread for Check: compiling runs no code.
lua_State* ScratchState() {
  struct Holder {
    lua_State* L = luaL_newstate();
    ~Holder() { lua_close(L); }
  };
  thread_local Holder holder;
  return holder.L;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// `text` without its leading white space and Lua comments (`-- ...`, `--[==[ ... ]==]`). An
// unfinished long comment is left in place, for Lua to report.
std::string_view SkipBlank(std::string_view text) {
  for (;;) {
    std::size_t i = 0;
    while (i < text.size() && IsSpace(text[i])) ++i;
    text.remove_prefix(i);
    if (text.substr(0, 2) != "--") return text;
    std::string_view rest = text.substr(2);
    if (!rest.empty() && rest[0] == '[') {
      std::size_t level = 1;
      while (level < rest.size() && rest[level] == '=') ++level;
      if (level < rest.size() && rest[level] == '[') {
        std::string close = "]" + std::string(level - 1, '=') + "]";
        std::size_t end = rest.find(close, level + 1);
        if (end == std::string_view::npos) return text;
        text = rest.substr(end + close.size());
        continue;
      }
    }
    std::size_t newline = rest.find('\n');
    text = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  }
}

// How Lua shows the chunk name "@file" in positions (luaO_chunkid, lobject.c): the file
// name, or "..." and its tail when it does not fit in LUA_IDSIZE bytes.
std::string LuaWhere(const std::string& chunk_name) {
  constexpr std::size_t kIdSize = LUA_IDSIZE;  // bytes, with the terminating NUL
  if (chunk_name.size() <= kIdSize) return chunk_name.substr(1);
  constexpr std::size_t kTail = kIdSize - 3 - 1;  // "..." and the NUL
  return "..." + chunk_name.substr(chunk_name.size() - kTail);
}

// Compiles `text`; on failure moves Lua's message into *message. Leaves the function pushed on
// success only.
int LoadText(lua_State* L, std::string_view text, const std::string& chunk_name,
             std::string* message) {
  int status = luaL_loadbufferx(L, text.data(), text.size(), chunk_name.c_str(), "t");
  if (status != LUA_OK) {
    std::size_t size = 0;
    const char* error = lua_tolstring(L, -1, &size);
    if (message != nullptr) {
      if (error != nullptr) {
        message->assign(error, size);
      } else {
        message->assign("cannot compile");
      }
    }
    lua_pop(L, 1);
  }
  return status;
}

}  // namespace

Script::Script(ScriptKind kind, std::string source, std::string file, int first_line)
    : kind_(kind),
      id_(g_next_script_id.fetch_add(1, std::memory_order_relaxed)),
      first_line_(first_line < 1 ? 1 : first_line),
      source_(std::move(source)),
      file_(std::move(file)),
      alive_(std::make_shared<const char>('\0')) {
  // The code is compiled as written (an expression's wrapper adds no line before it), so Lua's
  // line N is spec line N + first_line - 1; Locate maps messages. Padding the chunk with
  // first_line - 1 newlines instead cost lexing them in every Vm: quadratic in a spec file.
  std::size_t last = source_.size();
  while (last > 0 && IsSpace(source_[last - 1])) --last;
  long long lines = 0;
  for (std::size_t i = 0; i < last; ++i) lines += source_[i] == '\n';
  last_line_ =
      static_cast<int>(std::min<long long>(first_line_ + lines, std::numeric_limits<int>::max()));
  if (kind_ == ScriptKind::kExpression) {
    chunk_.reserve(kExpressionPrologue.size() + source_.size() + 10);
    chunk_ = kExpressionPrologue;
    chunk_ += "return (";
    chunk_ += source_;
    // A trailing `--` comment would swallow the parenthesis.
    chunk_ += source_.find("--") == std::string::npos ? ")" : "\n)";
  }
  chunk_name_ = "@" + file_;
  lua_where_ = LuaWhere(chunk_name_);
}

std::string Script::MapLineMentions(std::string_view message) const {
  // Lua's syntax messages name other lines in their own words ("(to close 'function' at
  // line 3)", "break outside a loop at line 5", "label 'x' already defined on line 2"); the
  // user's text comes only after " near " (the offending token), and identifiers have no
  // spaces, so mentions before that are Lua's.
  std::size_t near = message.find(" near ");
  std::string out;
  std::size_t done = 0;
  for (std::size_t i = message.find(" line "); i < near && i != std::string_view::npos;
       i = message.find(" line ", i + 1)) {
    bool lua_words = (i >= 3 && message.substr(i - 3, 3) == " at") ||
                     (i >= 3 && message.substr(i - 3, 3) == " on");
    std::size_t digits = i + 6;
    long long line = 0;
    while (digits < message.size() && message[digits] >= '0' && message[digits] <= '9' &&
           digits - (i + 6) < 12) {
      line = line * 10 + (message[digits] - '0');
      ++digits;
    }
    if (!lua_words || digits == i + 6) continue;
    out.append(message.substr(done, i + 6 - done));
    out += std::to_string(SpecLine(line));
    done = digits;
  }
  out.append(message.substr(done));
  return out;
}

int Script::Load(lua_State* L, std::string* message) const {
  int status = LoadText(L, chunk(), chunk_name_, message);
  if (status == LUA_OK || status == LUA_ERRMEM) return status;
  if (kind_ == ScriptKind::kExpression) {
    // The wrapper is why it failed, or at least what Lua's message mentions (`near ')'`):
    // work the message out on the code as written. Only failed compiles get here.
    std::string position = lua_where_ + ":1: ";
    std::string_view code = SkipBlank(source_);
    if (code.empty()) {
      *message = position + "empty expression";
      return status;
    }
    std::string text(kExpressionPrologue);
    text += source_;  // a trailing comment is harmless here: nothing follows it
    if (LoadText(L, text, chunk_name_, nullptr) == LUA_OK) {
      lua_pop(L, 1);
      bool is_return = code.substr(0, 6) == "return" && (code.size() == 6 || !IsNameChar(code[6]));
      *message =
          position + (is_return ? "expected an expression without 'return' (e.g. payload.n > 3)"
                                : "expected an expression (e.g. payload.n > 3), not a statement");
      return status;
    }
    text.assign(kExpressionPrologue);
    text += "return ";
    text += source_;
    std::string plain;
    if (LoadText(L, text, chunk_name_, &plain) == LUA_OK) {
      lua_pop(L, 1);  // a list (`a, b`) or a trailing `;`: Lua's message on the wrapper says so
    } else if (plain.find("not enough memory") == std::string::npos) {
      *message = std::move(plain);
    }
  }
  *message = MapLineMentions(*message);
  return status;
}

int Script::SpecLine(long long line) const {
  long long spec = line + first_line_ - 1;
  if (spec > last_line_) spec = last_line_;
  if (spec < first_line_) spec = first_line_;
  return static_cast<int>(spec);
}

std::string Script::Locate(std::string_view message) const {
  std::string out;
  out.reserve(message.size() + file_.size());
  // Positions come first (`where:N: text`), and an error re-raised with its message stacks
  // them (`where:9: where:4: text`); anything after the first non-position is the user's text.
  for (;;) {
    if (message.size() <= lua_where_.size() ||
        message.compare(0, lua_where_.size(), lua_where_) != 0 ||
        message[lua_where_.size()] != ':') {
      break;
    }
    std::size_t i = lua_where_.size() + 1;
    long long line = 0;
    std::size_t digits = 0;
    while (i < message.size() && message[i] >= '0' && message[i] <= '9' && digits < 12) {
      line = line * 10 + (message[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || i >= message.size() || message[i] != ':') break;
    out += file_;
    out += ':';
    out += std::to_string(SpecLine(line));
    out += ':';
    message.remove_prefix(i + 1);
    if (message.empty() || message[0] != ' ') break;
    out += ' ';
    message.remove_prefix(1);
  }
  out += message;
  return out;
}

Status Script::Check() const {
  lua_State* L = ScratchState();
  if (L == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a Lua state");
  std::string message;
  int status = Load(L, &message);
  lua_settop(L, 0);
  if (status == LUA_OK) return {};
  return MakeError(ErrorCode::kInvalidArgument, Locate(message));
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
