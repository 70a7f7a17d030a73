#include "epos/lua/vm.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <lua.hpp>

#include "epos/core/json.h"
#include "epos/lua/convert.h"
#include "epos/lua/script.h"
#include "payload_proxy.h"

namespace epos::lua {
namespace {

static_assert(LUA_EXTRASPACE >= sizeof(void*), "the Vm pointer lives in the extra space");

// Registry key (by address) of the metatable of script environments: {__index = globals}.
const char kEnvMetaKey = 0;

// Stack index of Vm::ErrorHandler, the message handler of every call (the constructor puts
// it there).
constexpr int kErrorHandlerIndex = 1;

std::mutex g_defaults_mu;
VmOptions& DefaultOptions() {  // guarded by g_defaults_mu
  static VmOptions* options = new VmOptions();
  return *options;
}

// The calling thread's Vm: a raw pointer for the fast path (no TLS init check) and the
// owning holder that closes it when the thread exits.
thread_local Vm* t_vm = nullptr;
struct ThreadVm {
  std::unique_ptr<Vm> vm;
  ~ThreadVm() { t_vm = nullptr; }
};
thread_local ThreadVm t_vm_holder;

int ReadOnlyEnv(lua_State* L) { return luaL_error(L, "env is read-only"); }
int ReadOnlyCtx(lua_State* L) { return luaL_error(L, "ctx is read-only"); }

// A stateless `next` over the table in upvalue 1, for __pairs of read-only proxies.
int ProxyNext(lua_State* L) {
  lua_settop(L, 2);
  if (lua_next(L, 1) != 0) return 2;
  lua_pushnil(L);
  return 1;
}
int ProxyPairs(lua_State* L) {
  lua_pushcfunction(L, ProxyNext);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushnil(L);
  return 3;
}
int ProxyLen(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(lua_rawlen(L, lua_upvalueindex(1))));
  return 1;
}

// Pushes a read-only view of `env` (a map; anything else gives an empty table).
void PushEnvProxy(lua_State* L, const Value& env) {
  luaL_checkstack(L, 6, "env");
  if (env.IsMap()) {
    PushValue(L, env);
  } else {
    lua_createtable(L, 0, 0);
  }
  lua_createtable(L, 0, 0);  // the proxy
  lua_createtable(L, 0, 5);  // its metatable
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadOnlyEnv);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, -3);
  lua_pushcclosure(L, ProxyPairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushvalue(L, -3);
  lua_pushcclosure(L, ProxyLen, 1);
  lua_setfield(L, -2, "__len");
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_remove(L, -2);
}

// Sets `env` in the script environment at `env_index` from frame's env Value.
void InstallEnv(lua_State* L, int env_index, const Value& env) {
  env_index = lua_absindex(L, env_index);
  PushEnvProxy(L, env);
  lua_setfield(L, env_index, "env");
}

}  // namespace

int Vm::Open(lua_State* L) {
  Vm* vm = From(L);
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_settop(L, 0);

  lua_pushglobaltable(L);
  int globals = lua_gettop(L);
  for (const char* name : {"dofile", "loadfile", "load", "collectgarbage", "require"}) {
    lua_pushnil(L);
    lua_setfield(L, globals, name);
  }
  lua_getfield(L, globals, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  OpenJson(L);
  lua_setfield(L, globals, "json");

  // Script environments read through to the globals.
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, globals);
  lua_setfield(L, -2, "__index");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEnvMetaKey);

  lua_pushcfunction(L, &Vm::Print);
  lua_setfield(L, globals, "print");

  // The ctx handed to snippets: an empty table whose metatable serves the methods.
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 3);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, &Vm::Emit);
  lua_setfield(L, -2, "emit");
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadOnlyCtx);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  vm->ctx_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);

  vm->proxies_->Open(L, globals);
  return 0;
}

Vm::Vm(VmOptions options)
    : options_(std::move(options)), proxies_(std::make_unique<internal::PayloadProxies>()) {
  if (options_.instruction_budget < 1) options_.instruction_budget = 1;
  L_ = lua_newstate(&Vm::Allocate, this);
  if (L_ == nullptr) {
    std::fprintf(stderr, "epos: cannot create a Lua state within %zu bytes\n",
                 options_.memory_limit_bytes);
    std::abort();
  }
  *static_cast<Vm**>(lua_getextraspace(L_)) = this;
  // Calls create short-lived tables; the generational collector handles those best.
  lua_gc(L_, LUA_GCGEN, 0, 0);

  // Everything that allocates runs protected: a tiny memory limit fails here, not in a panic.
  lua_pushcfunction(L_, &Vm::Open);
  if (lua_pcall(L_, 0, 0, 0) != LUA_OK) {
    std::fprintf(stderr, "epos: cannot open the Lua sandbox: %s\n", lua_tostring(L_, -1));
    std::abort();
  }
  lua_settop(L_, 0);
  // The message handler of every call stays at the bottom of the stack: pushing it per call
  // would cost the fast path.
  lua_pushcfunction(L_, &Vm::ErrorHandler);
  assert(lua_gettop(L_) == kErrorHandlerIndex);
}

Vm::~Vm() {
  cache_.clear();
  lua_close(L_);
}

Vm& Vm::ForThisThread() {
  if (t_vm != nullptr) return *t_vm;
  VmOptions options;
  {
    std::lock_guard<std::mutex> lock(g_defaults_mu);
    options = DefaultOptions();
  }
  t_vm_holder.vm = std::make_unique<Vm>(std::move(options));
  t_vm = t_vm_holder.vm.get();
  return *t_vm;
}

void Vm::SetDefaultOptions(VmOptions options) {
  std::lock_guard<std::mutex> lock(g_defaults_mu);
  DefaultOptions() = std::move(options);
}

void Vm::CollectGarbage() { lua_gc(L_, LUA_GCCOLLECT); }

Vm* Vm::From(lua_State* L) { return *static_cast<Vm**>(lua_getextraspace(L)); }

void* Vm::Allocate(void* ud, void* ptr, std::size_t old_size, std::size_t new_size) {
  auto* vm = static_cast<Vm*>(ud);
  std::size_t old = ptr != nullptr ? old_size : 0;  // for new blocks old_size is a type tag
  if (new_size == 0) {
    vm->memory_in_use_ -= old;
    std::free(ptr);
    return nullptr;
  }
  // Lua assumes shrinking never fails, so only growth is checked against the limit.
  if (new_size > old && vm->memory_in_use_ - old + new_size > vm->options_.memory_limit_bytes) {
    return nullptr;
  }
  void* block = std::realloc(ptr, new_size);
  if (block == nullptr) return nullptr;
  vm->memory_in_use_ = vm->memory_in_use_ - old + new_size;
  return block;
}

// "50ms", "2s", "1500us", "7ns": the largest unit that divides the timeout exactly.
static void FormatTimeout(std::chrono::nanoseconds timeout, char* out, std::size_t size) {
  const long long ns = static_cast<long long>(timeout.count());
  if (ns % 1'000'000'000 == 0) {
    std::snprintf(out, size, "%llds", ns / 1'000'000'000);
  } else if (ns % 1'000'000 == 0) {
    std::snprintf(out, size, "%lldms", ns / 1'000'000);
  } else if (ns % 1'000 == 0) {
    std::snprintf(out, size, "%lldus", ns / 1'000);
  } else {
    std::snprintf(out, size, "%lldns", ns);
  }
}

void Vm::CountHook(lua_State* L, lua_Debug* /*ar*/) {
  Vm* vm = From(L);
  if (!vm->budget_spent_ && !vm->timed_out_) {
    // With a deadline the hook fires every kDeadlineCheckInstructions instructions and the
    // deadline replaces the budget; without one it fires once, when the budget is spent.
    if (vm->has_deadline_) {
      if (std::chrono::steady_clock::now() < vm->deadline_) return;
      vm->timed_out_ = true;
    } else {
      vm->budget_spent_ = true;
    }
    // From now on every instruction fails, so a pcall in the script cannot go on looping.
    lua_sethook(L, &Vm::CountHook, LUA_MASKCOUNT, 1);
  }
  // Level 0 inside a hook is the running Lua function: its line is where the limit was hit.
  // (No C++ object with a destructor may be alive here: lua_error longjmps.)
  luaL_where(L, 0);
  if (vm->timed_out_) {
    char timeout[32];
    FormatTimeout(vm->timeout_, timeout, sizeof timeout);
    lua_pushfstring(L, "snippet exceeded its timeout of %s", timeout);
  } else {
    lua_pushfstring(L, "snippet exceeded its instruction budget (%d instructions)",
                    static_cast<int>(vm->options_.instruction_budget));
  }
  lua_concat(L, 2);
  lua_error(L);
}

int Vm::ErrorHandler(lua_State* L) {
  // Runs where the error was raised, before the stack unwinds: note the line of the first
  // Lua function on it (level 1 is `error` itself for error(...)), for errors whose message
  // carries no position (error(x, 0), a table). Nothing here allocates or raises.
  Vm* vm = From(L);
  vm->error_line_ = 0;
  const Script* script = vm->frame_ != nullptr ? vm->frame_->script : nullptr;
  lua_Debug ar;
  for (int level = 1; script != nullptr && lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) == 0) break;
    if (ar.currentline > 0) {
      if (std::strcmp(ar.source, script->chunk_name_.c_str()) == 0) {
        vm->error_line_ = ar.currentline;
      }
      break;
    }
  }
  return 1;  // the error object, unchanged
}

int Vm::Print(lua_State* L) {
  int n = lua_gettop(L);
  luaL_Buffer buffer;
  luaL_buffinit(L, &buffer);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&buffer, '\t');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&buffer);
  }
  luaL_pushresult(&buffer);
  std::size_t size = 0;
  const char* text = lua_tolstring(L, -1, &size);
  Vm* vm = From(L);
  // No Lua call below: nothing longjmps over the C++ frames.
  if (vm->options_.print) {
    vm->options_.print(std::string_view(text, size));
  } else {
    std::fprintf(stderr, "lua: %.*s\n", static_cast<int>(size), text);
  }
  return 0;
}

// Writes the canonical name of output port index `i` into `out` (≥ 16 bytes).
static std::size_t PortName(lua_Integer i, char* out) {
  if (i == 0) {
    std::memcpy(out, "out", 3);
    return 3;
  }
  return static_cast<std::size_t>(std::snprintf(out, 16, "out[%lld]", static_cast<long long>(i)));
}

int Vm::Emit(lua_State* L) {
  Vm* vm = From(L);
  if (vm->frame_ == nullptr || vm->frame_->emitted == nullptr) {
    return luaL_error(L, "ctx.emit called outside its snippet call");
  }
  constexpr lua_Integer kMaxIndex = 0x0FFF;  // graph/port.h kMaxPortIndex
  char port[16];
  std::size_t port_size = 0;
  int type = lua_type(L, 1);
  if (type == LUA_TNUMBER) {
    int is_integer = 0;
    lua_Integer i = lua_tointegerx(L, 1, &is_integer);
    if (is_integer == 0 || i < 0 || i > kMaxIndex) {
      return luaL_error(L, "ctx.emit: port index must be an integer from 0 to %d",
                        static_cast<int>(kMaxIndex));
    }
    port_size = PortName(i, port);
  } else if (type == LUA_TSTRING) {
    std::size_t size = 0;
    const char* s = lua_tolstring(L, 1, &size);
    std::string_view name(s, size);
    if (name == "out" || name == "error") {
      std::memcpy(port, s, size);
      port_size = size;
    } else if (name.size() > 5 && name.size() <= 9 && name.substr(0, 4) == "out[" &&
               name.back() == ']') {
      lua_Integer i = 0;
      bool digits = true;
      for (char c : name.substr(4, name.size() - 5)) {
        if (c < '0' || c > '9') digits = false;
        i = i * 10 + (c - '0');
      }
      if (!digits || i > kMaxIndex) {
        return luaL_error(L, "ctx.emit: bad port \"%s\"", s);
      }
      port_size = PortName(i, port);
    } else {
      return luaL_error(L,
                        "ctx.emit: unknown port \"%s\" (use \"out\", \"out[i]\", \"error\" or "
                        "an integer)",
                        s);
    }
  } else {
    return luaL_error(L, "ctx.emit: port must be a string or an integer, not %s",
                      luaL_typename(L, 1));
  }
  if (!vm->EmitValue(L, port, port_size)) {
    luaL_where(L, 1);
    lua_pushlstring(L, vm->scratch_error_.data(), vm->scratch_error_.size());
    lua_concat(L, 2);
    return lua_error(L);
  }
  return 0;
}

bool Vm::EmitValue(lua_State* L, const char* port, std::size_t port_size) {
  Result<Value> value = ToValue(L, 2);
  if (!value) {
    scratch_error_ = "ctx.emit: " + value.error().message;
    return false;
  }
  frame_->emitted->emplace_back(std::string(port, port_size), std::move(*value));
  return true;
}

Vm::Entry& Vm::Lookup(const Script& script) {
  auto it = cache_.find(script.id_);
  if (it != cache_.end()) return it->second;
  if (cache_.size() >= sweep_at_) Sweep();
  Entry& entry = cache_[script.id_];
  entry.function_ref = LUA_NOREF;
  entry.environment_ref = LUA_NOREF;
  entry.alive = script.alive_;
  return entry;
}

void Vm::Sweep() {
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (it->second.alive.expired()) {
      luaL_unref(L_, LUA_REGISTRYINDEX, it->second.function_ref);
      luaL_unref(L_, LUA_REGISTRYINDEX, it->second.environment_ref);
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
  sweep_at_ = std::max<std::size_t>(64, 2 * cache_.size());
}

bool Vm::CanPushWithoutAllocating(const Frame& frame) const {
  const Value& payload = *frame.payload;
  switch (payload.kind()) {
    case ValueKind::kNull:
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kDouble:
      return true;
    case ValueKind::kArray:
    case ValueKind::kMap:
      return frame.mode != Mode::kSnippet;  // the root proxy
    default:
      return false;
  }
}

void Vm::PushPayload(const Frame& frame) {
  const Value& payload = *frame.payload;
  if (frame.mode != Mode::kSnippet && (payload.IsMap() || payload.IsArray())) {
    proxies_->PushRoot(L_);  // viewing frame.payload: Run entered it
    return;
  }
  PushValue(L_, payload);
}

// Compiles the script, builds its environment, and for a snippet runs the chunk to get the
// function. Leaves the stack as it found it. Raises Lua errors; no C++ object with a
// destructor is alive here.
int Vm::Prepare(lua_State* L, Frame* frame) {
  const Script& script = *frame->script;
  Entry* entry = frame->entry;
  Vm* vm = From(L);
  if (script.Load(L, &vm->scratch_error_) != LUA_OK) {
    lua_pushlstring(L, vm->scratch_error_.data(), vm->scratch_error_.size());
    return lua_error(L);  // CallError maps its position
  }
  int chunk = lua_gettop(L);
  lua_createtable(L, 0, 4);  // the script's _ENV
  int environment = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kEnvMetaKey);
  lua_setmetatable(L, environment);
  lua_pushvalue(L, environment);
  lua_setupvalue(L, chunk, 1);  // a main chunk's only upvalue is _ENV
  InstallEnv(L, environment, *frame->env);
  if (script.kind_ == ScriptKind::kSnippet) {
    lua_pushvalue(L, chunk);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TFUNCTION) {
      // In Lua's terms, like every message CallError maps: chunk line 1.
      return luaL_error(L, "%s:1: snippet code must return a function (it returned %s)",
                        script.lua_where_.c_str(), luaL_typename(L, -1));
    }
  } else {
    lua_pushvalue(L, chunk);
  }
  lua_pushvalue(L, environment);
  entry->environment_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  entry->function_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  entry->env = *frame->env;
  entry->env_installed = true;
  lua_settop(L, chunk - 1);
  return 0;
}

int Vm::Invoke(lua_State* L) {
  auto* frame = static_cast<Frame*>(lua_touserdata(L, 1));
  Vm* vm = From(L);
  Entry* entry = frame->entry;
  if (entry->function_ref == LUA_NOREF) {
    Prepare(L, frame);
  } else if (!entry->env_installed || !entry->env.SharesBodyWith(*frame->env)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, entry->environment_ref);
    InstallEnv(L, -1, *frame->env);
    lua_pop(L, 1);
    entry->env = *frame->env;
    entry->env_installed = true;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, entry->function_ref);
  vm->PushPayload(*frame);
  int nargs = 1;
  if (frame->mode == Mode::kSnippet) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ctx_ref_);
    nargs = 2;
  }
  lua_call(L, nargs, 1);
  return 1;
}

Error Vm::CallError(const Script& script, int status) {
  // Where an error without a position of its own happened: the line ErrorHandler saw.
  auto at = [&script](int line) { return script.file_ + ":" + std::to_string(line) + ": "; };
  const int line = error_line_ > 0 ? script.SpecLine(error_line_) : script.first_line_;
  std::string message;
  int type = lua_type(L_, -1);
  if (status == LUA_ERRMEM) {
    message = at(script.first_line_) + "snippet exceeded its memory limit (" +
              std::to_string(options_.memory_limit_bytes) + " bytes)";
  } else if (type == LUA_TSTRING || type == LUA_TNUMBER) {
    std::size_t size = 0;
    const char* text = lua_tolstring(L_, -1, &size);
    message = script.Locate(std::string_view(text, size));
    // error("x", 0) and errors raised from C carry no position: name the line.
    if (message.compare(0, script.file_.size() + 1, script.file_ + ":") != 0) {
      message = at(line) + message;
    }
  } else if (type == LUA_TTABLE) {
    Result<Value> object = ToValue(L_, -1);
    message = at(line) + (object ? ToJson(*object) : "(error object is a table value)");
  } else {
    message = at(line) + "(error object is a " + luaL_typename(L_, -1) + " value)";
  }
  if (timed_out_ && message.find("exceeded its timeout") == std::string::npos) {
    char timeout[32];
    FormatTimeout(timeout_, timeout, sizeof timeout);
    message = at(script.first_line_) + "snippet exceeded its timeout of " + timeout;
  } else if (budget_spent_ && message.find("instruction budget") == std::string::npos) {
    message = at(script.first_line_) + "snippet exceeded its instruction budget (" +
              std::to_string(options_.instruction_budget) + " instructions)";
  }
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Status Vm::Run(const Script& script, Mode mode, const Value& payload, const Value& env,
               bool* truthy, std::optional<Value>* value,
               std::vector<std::pair<std::string, Value>>* emitted,
               std::chrono::nanoseconds timeout) {
  Entry& entry = Lookup(script);
  Frame frame{&script, &entry, mode, &payload, &env, emitted};
  Frame* outer = std::exchange(frame_, &frame);
  // Proxies read the payload only until Exit below (after the result is converted).
  bool proxied = mode != Mode::kSnippet && (payload.IsMap() || payload.IsArray());
  internal::PayloadProxies::Scope proxy_scope = proxies_->Enter(proxied ? &payload : nullptr);
  budget_spent_ = false;
  timed_out_ = false;
  has_deadline_ = timeout.count() > 0;
  if (has_deadline_) {
    timeout_ = timeout;
    deadline_ = std::chrono::steady_clock::now() + timeout;
    lua_sethook(L_, &Vm::CountHook, LUA_MASKCOUNT, kDeadlineCheckInstructions);
  } else {
    lua_sethook(L_, &Vm::CountHook, LUA_MASKCOUNT, options_.instruction_budget);
  }
  int base = lua_gettop(L_);
  error_line_ = 0;
  int status;
  if (entry.function_ref != LUA_NOREF && entry.env_installed && entry.env.SharesBodyWith(env) &&
      CanPushWithoutAllocating(frame)) {
    // Fast path: nothing below allocates, so no protected trampoline is needed.
    lua_rawgeti(L_, LUA_REGISTRYINDEX, entry.function_ref);
    PushPayload(frame);
    int nargs = 1;
    if (mode == Mode::kSnippet) {
      lua_rawgeti(L_, LUA_REGISTRYINDEX, ctx_ref_);
      nargs = 2;
    }
    status = lua_pcall(L_, nargs, 1, kErrorHandlerIndex);
  } else {
    lua_pushcfunction(L_, &Vm::Invoke);
    lua_pushlightuserdata(L_, &frame);
    status = lua_pcall(L_, 1, 1, kErrorHandlerIndex);
  }
  frame_ = outer;

  Status result;
  if (status != LUA_OK) {
    result = tl::unexpected(CallError(script, status));
  } else if (mode == Mode::kCondition) {
    *truthy = lua_toboolean(L_, -1) != 0;
  } else if (!lua_isnil(L_, -1)) {
    Result<Value> converted = ToValue(L_, -1);
    if (converted) {
      *value = std::move(*converted);
    } else {
      result = MakeError(ErrorCode::kInvalidArgument,
                         script.file_ + ":" + std::to_string(script.first_line_) +
                             (mode == Mode::kSnippet ? ": snippet result: " : ": result: ") +
                             converted.error().message);
    }
  }
  proxies_->Exit(proxy_scope);
  lua_settop(L_, base);
  if (budget_spent_ || timed_out_ || has_deadline_) {
    budget_spent_ = false;
    timed_out_ = false;
    has_deadline_ = false;
    lua_sethook(L_, &Vm::CountHook, LUA_MASKCOUNT, options_.instruction_budget);
  }
  return result;
}

}  // namespace epos::lua
