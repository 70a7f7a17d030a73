// Vm: a sandboxed Lua 5.4 state, one per thread (DESIGN.md §3 snippets and guards).
//
// Each worker thread gets its own Vm from Vm::ForThisThread(), created lazily on first use
// (thread_local) with the options set by Vm::SetDefaultOptions, and closed when the thread
// exits. Lua states are single-threaded, so this gives every worker a VM with no locking;
// the price is that each worker compiles each Script once (see script.h) and that Lua
// globals a script sets are per worker, not shared.
//
// Sandbox: only the base library (without dofile, loadfile, load, collectgarbage; `print`
// goes to VmOptions::print), string (without string.dump), table, math and utf8 are
// present, plus `json` ({null, array}, see convert.h); `type`, `next`, `rawget`, `rawlen` and
// `rawset` are replaced by versions that treat payload proxies (script.h) as the read-only
// tables they stand for, and light userdata get the proxies' metatable (json.null is the
// only other light userdata). There is no io, os, debug, package, require or load, and
// chunks are loaded as text only (no bytecode). Every script gets its own global environment
// whose reads fall back to the shared libraries; the library tables themselves are shared by
// the scripts of one Vm, so a script must not modify them.
//
// Limits: the allocator refuses to grow the state past VmOptions::memory_limit_bytes
// (a Lua "not enough memory" error, reported as exceeding the memory limit), and a count
// hook stops a call after VmOptions::instruction_budget VM instructions ("snippet exceeded
// its instruction budget"); once the budget is spent every further instruction of that
// call fails, so `pcall` in the script cannot swallow it. Time spent inside one C library
// function (a pathological string.find pattern) is not counted. The Vm stays usable after
// either error.
//
// Timeout: a snippet call may instead be given a wall-clock timeout (Script::CallSnippet),
// which replaces the instruction budget for that call: a snippet with `timeout: 5s` may run
// 5 s of pure Lua (the budget alone stops a tight loop after ~50 ms). The count hook then
// fires every kDeadlineCheckInstructions instructions to read the steady clock, and a call
// past its deadline fails with "snippet exceeded its timeout of 50ms" the same way as for
// the budget: every further instruction fails, and the Vm stays usable. Like the budget, it
// cannot interrupt one long C library function. The memory limit applies either way.
//
// Ownership: a Vm keeps, per Script it ran, the compiled function, the script's globals
// and the last `env` Value. Entries of destroyed Scripts are dropped when the cache has
// doubled since its last sweep. An expression's container payload is read through proxies
// (script.h) that point into the caller's Value only while the call runs; the Vm keeps no
// payload after a call returns.
//
// Thread-safety: a Vm is used by one thread at a time (the one that owns it, for
// ForThisThread()). SetDefaultOptions is thread-safe.
#ifndef EPOS_LUA_VM_H_
#define EPOS_LUA_VM_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "epos/core/status.h"
#include "epos/core/value.h"

struct lua_State;
struct lua_Debug;

namespace epos::lua {

class Script;
namespace internal {
class PayloadProxies;
}  // namespace internal

struct VmOptions {
  // Most bytes the Lua state may hold (its whole heap: code, tables, strings). The sandbox
  // itself needs about 15 KiB; a Vm that cannot even open it aborts.
  std::size_t memory_limit_bytes = std::size_t{64} << 20;
  // VM instructions one call (one guard evaluation or snippet call) may run, at most
  // INT32_MAX. Not applied to a snippet call given a timeout (the timeout bounds it).
  std::int32_t instruction_budget = 10'000'000;
  // Receives each line a script prints (arguments joined by tabs, no newline). Empty: the
  // line goes to stderr prefixed with "lua: ".
  std::function<void(std::string_view)> print;
};

// What a snippet call produced: the function's return value (nullopt for nil) and the
// ctx.emit calls in call order, each as a canonical port name ("out", "out[2]", "error")
// and a payload.
struct SnippetResult {
  std::optional<Value> result;
  std::vector<std::pair<std::string, Value>> emitted;
};

class Vm {
 public:
  // With a timeout, instructions between two clock reads (about 5-20 us of Lua work, and
  // one steady_clock::now() each).
  static constexpr std::int32_t kDeadlineCheckInstructions = 1000;

  explicit Vm(VmOptions options = {});
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // The calling thread's Vm, created on first use.
  static Vm& ForThisThread();
  // Options for the per-thread VMs created from now on (existing ones keep theirs).
  static void SetDefaultOptions(VmOptions options);

  const VmOptions& options() const { return options_; }
  // Bytes the Lua state currently holds.
  std::size_t memory_in_use() const { return memory_in_use_; }
  // Scripts compiled in this Vm and still cached.
  std::size_t cached_scripts() const { return cache_.size(); }
  // Runs a full garbage collection (tests, idle time).
  void CollectGarbage();

  // The raw state, for tests and extensions: keep the stack balanced (its first slot holds
  // the Vm's message handler).
  lua_State* state() const { return L_; }

 private:
  friend class Script;

  enum class Mode : std::uint8_t { kCondition, kEvaluate, kSnippet };

  // Per-Script state in this Vm: the compiled function and its global environment.
  struct Entry {
    int function_ref;     // registry ref of the function to call, or LUA_NOREF
    int environment_ref;  // registry ref of the script's _ENV table, or LUA_NOREF
    Value env;            // the `env` Value last installed in that table
    bool env_installed = false;
    std::weak_ptr<const void> alive;  // expires when the Script is destroyed
  };

  // One call in flight; lives on the C++ stack of Run.
  struct Frame {
    const Script* script;
    Entry* entry;
    Mode mode;
    const Value* payload;
    const Value* env;
    std::vector<std::pair<std::string, Value>>* emitted;  // snippets only
  };

  // Calls `script` (compiling it first if needed). On success the result is left in
  // *truthy (conditions), *value (evaluate, snippet; nullopt for nil) and frame.emitted.
  // `timeout` > 0 bounds the call's wall-clock time.
  [[nodiscard]] Status Run(const Script& script, Mode mode, const Value& payload, const Value& env,
                           bool* truthy, std::optional<Value>* value,
                           std::vector<std::pair<std::string, Value>>* emitted,
                           std::chrono::nanoseconds timeout = {});

  Entry& Lookup(const Script& script);
  void Sweep();
  Error CallError(const Script& script, int status);
  // Pushes the payload for `frame`: for an expression, a container payload as the root proxy.
  void PushPayload(const Frame& frame);
  bool CanPushWithoutAllocating(const Frame& frame) const;

  static void* Allocate(void* ud, void* ptr, std::size_t old_size, std::size_t new_size);
  static void CountHook(lua_State* L, lua_Debug* ar);
  static int Open(lua_State* L);
  static int Invoke(lua_State* L);
  static int ErrorHandler(lua_State* L);  // lua_pcall message handler of Run
  static int Prepare(lua_State* L, Frame* frame);
  static int Print(lua_State* L);
  static int Emit(lua_State* L);
  static Vm* From(lua_State* L);
  bool EmitValue(lua_State* L, const char* port, std::size_t port_size);

  VmOptions options_;
  std::size_t memory_in_use_ = 0;
  lua_State* L_ = nullptr;
  int ctx_ref_ = -1;  // the ctx table handed to every snippet call
  // The proxies through which expressions read container payloads (src/lua/payload_proxy.h).
  std::unique_ptr<internal::PayloadProxies> proxies_;
  Frame* frame_ = nullptr;     // the call in flight, for ctx.emit
  bool budget_spent_ = false;  // the count hook fired during this call
  // The call's timeout, when it has one: the count hook then fires every
  // kDeadlineCheckInstructions and the deadline replaces the instruction budget.
  bool has_deadline_ = false;
  bool timed_out_ = false;  // the deadline passed during this call
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::nanoseconds timeout_{0};
  int error_line_ = 0;  // chunk line where the failed call raised its error (0: unknown)
  std::unordered_map<std::uint64_t, Entry> cache_;  // by Script::id()
  std::size_t sweep_at_ = 64;                       // cache size that triggers the next Sweep
  std::string scratch_error_;                       // error text handed from C++ to lua_error
};

}  // namespace epos::lua

#endif  // EPOS_LUA_VM_H_
