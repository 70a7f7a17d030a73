#include "epos/nodes/lua_nodes.h"

#include <algorithm>
#include <cassert>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "epos/core/json.h"
#include "epos/exec/context.h"
#include "epos/graph/port.h"

namespace epos {
namespace {

// snippet, language lua.
class LuaSnippetNode final : public Node {
 public:
  LuaSnippetNode(std::shared_ptr<const lua::Script> script, Value env,
                 std::chrono::nanoseconds timeout)
      : script_(std::move(script)), env_(std::move(env)), timeout_(timeout) {
    assert(script_ != nullptr && script_->kind() == lua::ScriptKind::kSnippet &&
           "a snippet node needs a snippet script");
  }

  void OnPulse(Context& ctx, PortIndex, Value payload) override {
    Result<lua::SnippetResult> called = script_->CallSnippet(payload, env_, timeout_);
    if (!called) {
      ctx.Fail(called.error().message);  // names the spec's file and line
      return;
    }
    // The Vm checked each ctx.emit port (raising a Lua error at the call's line) and gives
    // canonical names, which parse.
    for (auto& [name, value] : called->emitted) {
      const PortIndex port = *ParseOutPort(name);
      if (port == kErrorPort) {
        EmitError(ctx, std::move(value));
      } else {
        ctx.Emit(port, std::move(value));
      }
    }
    if (called->result) ctx.Emit(0, std::move(*called->result));
  }

  PortShape ports() const override { return {1, PortShape::kAny, true}; }

 private:
  // ctx.emit("error", v): v is the node's failure. A map holding "error" is the error map
  // itself (node and kind are added when absent); anything else becomes its "error" field.
  static void EmitError(Context& ctx, Value value) {
    if (value.IsMap() && value.Find("error") != nullptr) {
      ctx.FailWith(std::move(value));
    } else {
      ctx.FailWith(Value::Map({{"error", std::move(value)}}));
    }
  }

  // Immutable after construction.
  const std::shared_ptr<const lua::Script> script_;
  const Value env_;  // the same Value body on every call: each Vm installs it once
  const std::chrono::nanoseconds timeout_;
};

// snippet, languages text/json/yaml.
class LiteralNode final : public Node {
 public:
  explicit LiteralNode(Value literal) : literal_(std::move(literal)) {}
  void OnPulse(Context& ctx, PortIndex, Value) override { ctx.Emit(0, literal_); }
  // A snippet has an error port whatever its language, so specs may wire it.
  PortShape ports() const override { return {1, 1, true}; }

 private:
  const Value literal_;  // shared by every emission, never copied
};

class IfNode final : public Node {
 public:
  IfNode(std::shared_ptr<const lua::Script> condition, Value env)
      : condition_(std::move(condition)), env_(std::move(env)) {
    assert(condition_ != nullptr && condition_->kind() == lua::ScriptKind::kExpression &&
           "an if node needs an expression");
  }

  void OnPulse(Context& ctx, PortIndex, Value payload) override {
    Result<bool> holds = condition_->EvalCondition(payload, env_);
    if (!holds) {
      ctx.Fail(holds.error().message);
      return;
    }
    ctx.Emit(*holds ? 0 : 1, std::move(payload));
  }

  PortShape ports() const override { return {1, 2, true}; }

 private:
  const std::shared_ptr<const lua::Script> condition_;
  const Value env_;
};

class SwitchNode final : public Node {
 public:
  SwitchNode(std::vector<SwitchCase> cases, Value env)
      : cases_(std::move(cases)), env_(std::move(env)) {
    for (const SwitchCase& c : cases_) {
      assert(c.condition != nullptr && c.condition->kind() == lua::ScriptKind::kExpression &&
             "a switch case needs an expression");
      assert(c.port <= kMaxPortIndex && "a switch case goes to an out[i] port");
      outputs_ = std::max<PortIndex>(outputs_, static_cast<PortIndex>(c.port + 1));
    }
  }

  void OnPulse(Context& ctx, PortIndex, Value payload) override {
    for (const SwitchCase& c : cases_) {
      Result<bool> holds = c.condition->EvalCondition(payload, env_);
      if (!holds) {
        ctx.Fail(holds.error().message);
        return;
      }
      if (*holds) {
        ctx.Emit(c.port, std::move(payload));
        return;
      }
    }
    // No case holds: the pulse is dropped (DESIGN.md §5).
  }

  PortShape ports() const override { return {1, outputs_, true}; }

 private:
  const std::vector<SwitchCase> cases_;
  const Value env_;
  PortIndex outputs_ = 1;  // highest case port + 1; set in the constructor
};

// The log message, parsed once: literal text and `{{ payload... }}` paths, in order.
class MessageTemplate {
 public:
  explicit MessageTemplate(std::string_view text) {
    std::size_t literal_start = 0;
    std::size_t at = 0;
    while ((at = text.find("{{", at)) != std::string_view::npos) {
      const std::size_t close = text.find("}}", at + 2);
      if (close == std::string_view::npos) break;
      std::vector<std::string> path;
      if (!ParsePath(text.substr(at + 2, close - at - 2), &path)) {
        at += 2;  // not a payload reference: stays literal text
        continue;
      }
      AddLiteral(text.substr(literal_start, at - literal_start));
      parts_.push_back(Part{true, {}, std::move(path)});
      at = close + 2;
      literal_start = at;
    }
    AddLiteral(text.substr(literal_start));
  }

  std::string Render(const Value& payload) const {
    std::string out;
    for (const Part& part : parts_) {
      if (!part.is_path) {
        out += part.text;
        continue;
      }
      const Value* value = Lookup(payload, part.path);
      if (value == nullptr) continue;  // missing: ""
      if (value->IsString()) {
        out += value->AsString();
      } else {
        out += ToJson(*value);
      }
    }
    return out;
  }

 private:
  struct Part {
    bool is_path;
    std::string text;               // literal
    std::vector<std::string> path;  // keys (or array indices) below payload
  };

  void AddLiteral(std::string_view text) {
    if (text.empty()) return;
    if (!parts_.empty() && !parts_.back().is_path) {
      parts_.back().text += text;
    } else {
      parts_.push_back(Part{false, std::string(text), {}});
    }
  }

  // " payload.a.b " → {"a", "b"}; false when `inner` is not a payload reference.
  static bool ParsePath(std::string_view inner, std::vector<std::string>* path) {
    constexpr std::string_view kSpace = " \t";
    const std::size_t first = inner.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return false;
    inner = inner.substr(first, inner.find_last_not_of(kSpace) - first + 1);
    constexpr std::string_view kRoot = "payload";
    if (inner.substr(0, kRoot.size()) != kRoot) return false;
    inner.remove_prefix(kRoot.size());
    while (!inner.empty()) {
      if (inner.front() != '.') return false;
      inner.remove_prefix(1);
      const std::size_t end = std::min(inner.find('.'), inner.size());
      std::string_view key = inner.substr(0, end);
      if (key.empty() || key.find_first_of(" \t{}") != std::string_view::npos) return false;
      path->emplace_back(key);
      inner.remove_prefix(end);
    }
    return true;
  }

  // The value at `path` below `payload`, or nullptr when missing. A segment of digits
  // indexes an array; on a map every segment is a key.
  static const Value* Lookup(const Value& payload, const std::vector<std::string>& path) {
    const Value* at = &payload;
    for (const std::string& key : path) {
      if (at->IsMap()) {
        at = at->Find(key);
      } else if (at->IsArray()) {
        std::size_t index = 0;
        for (char c : key) {
          if (c < '0' || c > '9' || index > at->size()) return nullptr;
          index = index * 10 + static_cast<std::size_t>(c - '0');
        }
        if (index >= at->size()) return nullptr;
        at = &at->AsArray()[index];
      } else {
        return nullptr;
      }
      if (at == nullptr) return nullptr;
    }
    return at;
  }

  std::vector<Part> parts_;
};

spdlog::level::level_enum LevelFromName(const std::string& name) {
  if (name == "warning") return spdlog::level::warn;
  if (name == "fatal") return spdlog::level::critical;
  spdlog::level::level_enum level = spdlog::level::from_str(name);
  // from_str answers `off` for names it does not know; the spec compiler rejects those,
  // so here they simply log at info.
  if (level == spdlog::level::off && name != "off") return spdlog::level::info;
  return level;
}

class LogNode final : public Node {
 public:
  LogNode(const std::string& level, const std::string& message)
      : level_(LevelFromName(level)), message_(message) {}

  void OnPulse(Context& ctx, PortIndex, Value payload) override {
    // The default logger is looked up per pulse so the CLI (or a test) may replace it.
    std::shared_ptr<spdlog::logger> logger = spdlog::default_logger();
    if (logger != nullptr && logger->should_log(level_)) {
      const std::string text = message_.Render(payload);
      logger->log(level_, spdlog::string_view_t(text.data(), text.size()));
    }
    ctx.Emit(0, std::move(payload));
  }

  PortShape ports() const override { return {1, 1, false}; }

 private:
  const spdlog::level::level_enum level_;
  const MessageTemplate message_;
};

}  // namespace

std::unique_ptr<Node> MakeLuaSnippetNode(std::shared_ptr<const lua::Script> script, Value env,
                                         std::chrono::nanoseconds timeout) {
  return std::make_unique<LuaSnippetNode>(std::move(script), std::move(env), timeout);
}

std::unique_ptr<Node> MakeLiteralNode(Value literal) {
  return std::make_unique<LiteralNode>(std::move(literal));
}

std::unique_ptr<Node> MakeIfNode(std::shared_ptr<const lua::Script> condition, Value env) {
  return std::make_unique<IfNode>(std::move(condition), std::move(env));
}

std::unique_ptr<Node> MakeSwitchNode(std::vector<SwitchCase> cases, Value env) {
  return std::make_unique<SwitchNode>(std::move(cases), std::move(env));
}

std::unique_ptr<Node> MakeLogNode(std::string level, std::string message) {
  return std::make_unique<LogNode>(level, message);
}

}  // namespace epos
