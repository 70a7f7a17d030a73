// Node kinds loaded from shared libraries (`epos run --plugin PATH.so ...`), so an
// extension needs no rebuild of EPOS.
//
// ## Writing a node kind plugin
//
// A plugin is a shared library that registers node kinds into the Scheme, exactly as a
// built-in kind does (scheme.h), and says so once with EPOS_PLUGIN:
//
//   // upper.cc
//   #include <cctype>
//   #include <string>
//
//   #include "epos/nodes/control.h"
//   #include "epos/spec/plugin.h"
//
//   namespace {
//
//   std::unique_ptr<epos::Node> CompileUpper(epos::SpecDecoder& d) {
//     std::string suffix = d.String("suffix", epos::Need::kOptional).value_or("");
//     if (!d.ok()) return nullptr;  // the decoder reported the problem at the field
//     return epos::MakeFunctionNode(  // ports: in -> out, error
//         [suffix](epos::Context& ctx, epos::PortIndex, epos::Value payload) {
//           if (!payload.IsString()) return ctx.Fail("acme.upper expects a string");
//           std::string s(payload.AsString());
//           for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
//           ctx.Emit(0, epos::Value(s + suffix));
//         });
//   }
//
//   epos::Status Register(epos::Scheme& scheme) {
//     return scheme.Register({.name = "acme.upper",
//                             .summary = "upper-cases a string payload, appends `suffix`",
//                             .fields = {"suffix"},
//                             .compile = &CompileUpper});
//   }
//
//   }  // namespace
//
//   EPOS_PLUGIN(Register)
//
// Build it against the same EPOS headers, compiler and flags as the `epos` binary, as a
// module that links no EPOS library (the epos symbols it uses come from the host):
//
//   add_library(acme_upper MODULE upper.cc)
//   target_link_libraries(acme_upper PRIVATE epos_plugin_api)   # headers and flags only
//   # (epos::plugin_api after find_package(epos) on an installed EPOS, see README.md)
//
// or by hand: `g++ -std=c++20 -fPIC -shared -I$EPOS/include upper.cc -o upper.so`.
// Then `epos run --plugin ./upper.so flows.yaml` accepts `kind: acme.upper`. An unknown
// field of a plugin kind gets the same "did you mean" as a built-in one; the fields the
// kind reads go in NodeKind::fields.
//
// ## The contract
//
// - Same build. C++ types (Scheme, NodeKind, std::function, std::string, Value, Node's
//   vtable) cross the boundary, so the plugin must be compiled from the same EPOS headers
//   with the same compiler, standard library and layout-changing flags (sanitizers) as
//   the host. kPluginAbiVersion, compiled into both sides, is checked at load time and
//   rejects a plugin built for another plugin ABI ("built for plugin ABI 7, this epos has
//   1; rebuild it"); it cannot detect every mismatched build, so rebuild plugins with EPOS.
// - Symbols come from the host. The `epos` and `epos_tests` executables are linked with
//   ENABLE_EXPORTS (-rdynamic) and a plugin links no EPOS library: its references to
//   Scheme::Register, MakeFunctionNode, Value, Context... bind to the host's one copy. A
//   plugin must not link its own copy of the EPOS static libraries: that copy would have
//   its own thread-locals (the scheduler's current worker, per-thread Lua VMs and node
//   state pools) and statics (Lua VM options), so a plugin node calling into its copy of
//   the runtime from a worker would not see that it runs on a worker (trace-store shard
//   chosen as if from outside, a second unconfigured Lua VM per thread). Values by
//   themselves would survive it (their bodies use the global operator new/delete), the
//   runtime state would not. The static libraries are not built position-independent
//   either. A plugin can only use EPOS functions the host links in; with RTLD_NOW a
//   missing one fails the load with the dynamic linker's "undefined symbol" message.
// - Loaded for good. The library is never dlclose'd, not even when loading fails: the
//   kinds' compile functions and every node they build run code that lives in it.
// - Threads. LoadPlugin modifies the Scheme, so call it at start-up, before compiling and
//   before any other thread reads the Scheme (scheme.h). The register function runs on
//   the calling thread. dlopen itself is thread-safe.
// - All or nothing. The register function runs against a staging copy of the scheme; its
//   kinds (and aliases) are added only when it succeeds, so a failing plugin leaves the
//   scheme as it was. A name the scheme already has is an error naming the plugin.
// - Loading twice. Loading a library into a scheme that already has its kinds is that
//   collision error (the plugin is not registered twice); loading it into another scheme
//   registers its kinds there too (dlopen hands back the one loaded copy).
#ifndef EPOS_SPEC_PLUGIN_H_
#define EPOS_SPEC_PLUGIN_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "epos/core/status.h"
#include "epos/spec/scheme.h"

namespace epos {

// The plugin ABI: the entry points below and the layout of every EPOS type a plugin
// touches. Bump it (and the `_v1` in kPluginRegisterSymbol and EPOS_PLUGIN) when either
// changes incompatibly.
inline constexpr std::uint32_t kPluginAbiVersion = 1;

// The C entry points a plugin exports (EPOS_PLUGIN defines them).
inline constexpr const char* kPluginAbiSymbol = "epos_plugin_abi_version";
inline constexpr const char* kPluginRegisterSymbol = "epos_plugin_register_v1";

// Loads the plugin at `path` (a file path; one without '/' is relative to the working
// directory, not looked up on the library path) and registers its kinds into `scheme`.
// Errors, each naming the path:
//  - kNotFound: no such file;
//  - kInvalidArgument: dlopen fails (its message, e.g. an undefined symbol), the library
//    is not an EPOS plugin (no epos_plugin_abi_version), it was built for another plugin
//    ABI, its register function fails or throws (its message), or one of its kinds is
//    already in `scheme`.
// On error `scheme` is unchanged. Not thread-safe with respect to `scheme` (see above).
[[nodiscard]] Status LoadPlugin(Scheme& scheme, const std::string& path);

namespace internal {

// Copies `message` into the C buffer `error` (NUL-terminated, truncated to fit).
inline void CopyPluginError(std::string_view message, char* error, std::size_t error_size) {
  if (error == nullptr || error_size == 0) return;
  std::size_t n = message.size() < error_size - 1 ? message.size() : error_size - 1;
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

// The body of epos_plugin_register_v1, compiled into the plugin: runs `register_fn` and
// turns an error Status or an exception into 1 plus a message, so no exception crosses
// the C boundary.
template <class RegisterFn>
int RunPluginRegister(RegisterFn&& register_fn, Scheme* scheme, char* error,
                      std::size_t error_size) noexcept {
  try {
    Status status = register_fn(*scheme);
    if (status) return 0;
    CopyPluginError(status.error().message, error, error_size);
  } catch (const std::exception& e) {
    CopyPluginError(std::string("exception: ") + e.what(), error, error_size);
  } catch (...) {
    CopyPluginError("unknown exception", error, error_size);
  }
  return 1;
}

}  // namespace internal
}  // namespace epos

// Written once at namespace scope in a plugin: `register_fn` is callable as
// `epos::Status(epos::Scheme&)`. Defines the exported C entry points:
//   std::uint32_t epos_plugin_abi_version(void)  -> kPluginAbiVersion as compiled here
//   int epos_plugin_register_v1(epos::Scheme*, char* error, std::size_t error_size)
//                                                -> 0, or 1 with a message in `error`
#define EPOS_PLUGIN(register_fn)                                                                  \
  extern "C" __attribute__((visibility("default"))) std::uint32_t epos_plugin_abi_version(void) { \
    return ::epos::kPluginAbiVersion;                                                             \
  }                                                                                               \
  extern "C" __attribute__((visibility("default"))) int epos_plugin_register_v1(                  \
      ::epos::Scheme* scheme, char* error, std::size_t error_size) {                              \
    return ::epos::internal::RunPluginRegister(register_fn, scheme, error, error_size);           \
  }

#endif  // EPOS_SPEC_PLUGIN_H_
