// Script: one piece of Lua from a spec — a guard or condition expression, or a snippet
// (DESIGN.md §3, §5).
//
// A Script is immutable and shared by all workers. It holds the source text and where it
// came from (file and first line), so every Lua error, at compile time or at run time,
// names the spec's file and line: `orders.yaml:15: attempt to index a nil value`. The code
// is compiled as written (chunk name "@<file>"), so Lua counts lines from 1; every message
// Lua produces for this chunk has its leading position(s) `<file>:<N>:` rewritten to
// `<file>:<N + first_line - 1>:` (only positions naming this chunk at the start of the
// message, or following another such position, e.g. an error re-raised with its message;
// Lua's shortened `...tail-of-a-long-path:N:` becomes the full file name). A mapped line is
// clamped to the code's last non-blank line, so "near <eof>" names the code, not the next
// spec. On first use in a thread, a call compiles the code in that thread's Vm and caches
// the function there, keyed by the Script's unique id; later calls in that thread reuse it.
// Destroying a Script lets every Vm drop its compiled copy (lazily, when the Vm next grows
// its cache).
//
// Flavours:
//  - kExpression (`when:` guards, `if`, `switch`): a Lua expression over `payload` and
//    `env`, e.g. `payload.n > 3`, compiled as `local payload = ...; return (<expr>)`, so it
//    gives exactly one value. When that does not compile, the message is worked out on the
//    code as written: a blank (or comment-only) expression gives "empty expression", a
//    statement (`x = 3`, `local x = 1`, `return x`) gives "expected an expression (e.g.
//    payload.n > 3), not a statement", and other syntax errors give Lua's message for
//    `return <expr>`, which refers only to the user's text (`unexpected symbol near <eof>`,
//    not `near ')'`).
//    EvalCondition gives its truthiness as in Lua (nil and false are false), Evaluate its
//    value. Scalar payloads are plain Lua values (convert.h). An array or map payload is
//    not converted: `payload` is a read-only proxy that converts only the fields read
//    (src/lua/payload_proxy.h), so a guard costs the same on a fresh payload as on a
//    repeated one. Reads give what convert.h's table would hold: nil for a null or missing
//    map entry, json.null for a null array element, integers as integers, strings as
//    strings, and an array or map field as another proxy; arrays are 1-based, `#`, `pairs`
//    (maps in insertion order), `ipairs`, `next`, `rawget`, `rawlen` work, and `type`
//    says "table". Writes (`payload.x = 1`, `rawset`) raise "payload is read-only". A proxy
//    is readable only during its call: one kept in a global raises "payload read after its
//    expression returned" later. Evaluate converts a proxy in its result back to the Value
//    a table would give (null map entries dropped, map keys sorted). Nesting is unlimited
//    for reads; converting a result keeps the kMaxConvertDepth limit.
//  - kSnippet: code that returns a function, `return function(payload, ctx) ... end`.
//    CallSnippet converts the payload to a fresh table (the function may modify it), calls
//    the function with it and a `ctx` whose `ctx.emit(port, value)` records emissions; port
//    is "out", "out[i]", "error" or an integer i (out[i]). `ctx` is valid only during the
//    call.
// In both, `env` is a read-only global table (its nested tables are not protected) built
// from the `env` Value given to the call; it is rebuilt only when a call passes a different
// Value body than the previous call on that worker, so pass the same Value every time.
// Other globals a script sets stay in its own environment, per worker.
//
// Errors (kInvalidArgument): syntax errors, run-time errors, a snippet chunk that does not
// return a function, results or emitted values that do not convert (convert.h), and the
// memory and instruction limits or the timeout of the Vm (vm.h). On error, the emissions of
// that call are discarded. Every message starts with `<file>:<line>: `: the position Lua
// gave, mapped as above, or, for an error without one (`error("x", 0)`, `error(42)`, a
// table), the line of the script's code that raised it. An error object that is a table
// is written as its compact JSON (`error({code = 42})` gives `flow.yaml:12: {"code":42}`;
// no field is singled out as the message); one that does not convert (it holds a function,
// say) gives "(error object is a table value)", and other non-strings "(error object is a
// boolean value)" and the like.
//
// Thread-safety: all const methods may be called from any number of threads at once; each
// thread uses its own Vm. The Vm& overloads use the given Vm, which must not be in use by
// another thread.
#ifndef EPOS_LUA_SCRIPT_H_
#define EPOS_LUA_SCRIPT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "epos/core/status.h"
#include "epos/core/value.h"
#include "epos/lua/vm.h"

namespace epos::lua {

enum class ScriptKind : std::uint8_t { kExpression, kSnippet };

class Script {
 public:
  // `file` and `first_line` (1-based) locate the code's first line in its spec file.
  Script(ScriptKind kind, std::string source, std::string file, int first_line = 1);
  static Script Expression(std::string source, std::string file, int first_line = 1) {
    return Script(ScriptKind::kExpression, std::move(source), std::move(file), first_line);
  }
  static Script Snippet(std::string source, std::string file, int first_line = 1) {
    return Script(ScriptKind::kSnippet, std::move(source), std::move(file), first_line);
  }

  Script(Script&&) noexcept = default;
  Script& operator=(Script&&) noexcept = default;
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  ScriptKind kind() const { return kind_; }
  std::uint64_t id() const { return id_; }
  const std::string& source() const { return source_; }
  const std::string& file() const { return file_; }
  int first_line() const { return first_line_; }

  // Compiles without running (syntax only) and returns the Lua message mapped to the
  // spec's file and line, e.g. `orders.yaml:12: unexpected symbol near '>'`.
  [[nodiscard]] Status Check() const;

  // Expressions.
  [[nodiscard]] Result<bool> EvalCondition(const Value& payload, const Value& env = {}) const {
    return EvalCondition(Vm::ForThisThread(), payload, env);
  }
  [[nodiscard]] Result<bool> EvalCondition(Vm& vm, const Value& payload,
                                           const Value& env = {}) const;
  // The expression's value (nil → null).
  [[nodiscard]] Result<Value> Evaluate(const Value& payload, const Value& env = {}) const {
    return Evaluate(Vm::ForThisThread(), payload, env);
  }
  [[nodiscard]] Result<Value> Evaluate(Vm& vm, const Value& payload, const Value& env = {}) const;

  // Snippets. `timeout` > 0 bounds the call's wall-clock time (checked every
  // Vm::kDeadlineCheckInstructions instructions): past it the call fails with
  // "<file>:<line>: snippet exceeded its timeout of 50ms". It replaces the Vm's instruction
  // budget for this call, so a snippet with `timeout: 5s` may compute for up to 5 s. Zero:
  // the instruction budget applies (VmOptions::instruction_budget).
  [[nodiscard]] Result<SnippetResult> CallSnippet(const Value& payload, const Value& env = {},
                                                  std::chrono::nanoseconds timeout = {}) const {
    return CallSnippet(Vm::ForThisThread(), payload, env, timeout);
  }
  [[nodiscard]] Result<SnippetResult> CallSnippet(Vm& vm, const Value& payload,
                                                  const Value& env = {},
                                                  std::chrono::nanoseconds timeout = {}) const;

 private:
  friend class Vm;

  // Compiles the code into `L`. On success pushes the function and returns LUA_OK; otherwise
  // pushes nothing, sets *message to the error in Lua's terms (its leading position not yet
  // mapped, see Locate; lines Lua's text mentions, "(to close 'if' at line 3)", mapped) and
  // returns Lua's status. Raises no Lua error.
  int Load(lua_State* L, std::string* message) const;
  std::string MapLineMentions(std::string_view message) const;
  // `message` (from Lua, about this chunk) with its leading positions mapped to spec lines.
  std::string Locate(std::string_view message) const;
  // The spec line of chunk line `line` (1-based), clamped to the code's lines.
  int SpecLine(long long line) const;
  // The chunk as compiled.
  std::string_view chunk() const { return kind_ == ScriptKind::kSnippet ? source_ : chunk_; }

  ScriptKind kind_;
  std::uint64_t id_;
  int first_line_;
  int last_line_;  // spec line of the code's last non-blank character
  std::string source_;
  std::string file_;
  std::string chunk_;                  // expressions: the wrapped text; snippets: unused
  std::string chunk_name_;             // "@file", so Lua prints "file:line:"
  std::string lua_where_;              // how Lua names the chunk in positions (short_src)
  std::shared_ptr<const char> alive_;  // Vm caches hold weak references
};

}  // namespace epos::lua

#endif  // EPOS_LUA_SCRIPT_H_
