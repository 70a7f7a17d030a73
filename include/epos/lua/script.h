// Script: one piece of Lua from a spec — a guard or condition expression, or a snippet
// (DESIGN.md §3, §5).
//
// A Script is immutable and shared by all workers. It holds the source text and where it
// came from (file and first line), so every Lua error, at compile time or at run time,
// names the spec's file and line: `orders.yaml:15: attempt to index a nil value`. On first
// use in a thread, a call compiles the code in that thread's Vm and caches the function
// there, keyed by the Script's unique id; later calls in that thread reuse it. Destroying
// a Script lets every Vm drop its compiled copy (lazily, when the Vm next grows its cache).
//
// Flavours:
//  - kExpression (`when:` guards, `if`, `switch`): a Lua expression over `payload` and
//    `env`, e.g. `payload.n > 3`, compiled as `local payload = ...; return (<expr>)`.
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
// memory and instruction limits of the Vm (vm.h). On error, the emissions of that call are
// discarded.
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
  // "<file>:<line>: snippet exceeded its timeout of 50ms". Zero: only the instruction budget.
  [[nodiscard]] Result<SnippetResult> CallSnippet(const Value& payload, const Value& env = {},
                                                  std::chrono::nanoseconds timeout = {}) const {
    return CallSnippet(Vm::ForThisThread(), payload, env, timeout);
  }
  [[nodiscard]] Result<SnippetResult> CallSnippet(Vm& vm, const Value& payload,
                                                  const Value& env = {},
                                                  std::chrono::nanoseconds timeout = {}) const;

 private:
  friend class Vm;

  ScriptKind kind_;
  std::uint64_t id_;
  int first_line_;
  std::string source_;
  std::string file_;
  std::string chunk_;                  // the text compiled: padded so chunk lines are spec lines
  std::string chunk_name_;             // "@file", so Lua prints "file:line:"
  std::shared_ptr<const char> alive_;  // Vm caches hold weak references
};

}  // namespace epos::lua

#endif  // EPOS_LUA_SCRIPT_H_
