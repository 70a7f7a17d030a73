#include "epos/spec/plugin.h"

#include <dlfcn.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <vector>

namespace epos {
namespace {

using AbiVersionFn = std::uint32_t (*)();
using RegisterFn = int (*)(Scheme*, char*, std::size_t);

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

tl::unexpected<Error> PluginError(ErrorCode code, const std::string& path, std::string message) {
  return MakeError(code, "plugin " + Quoted(path) + ": " + std::move(message));
}

std::string DlError() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown dlopen error";
}

// Copies every kind and alias of `from` into `to`, kinds first so aliases find them.
// Names `to` already has are left alone when `skip_existing`, else reported.
Status CopyKinds(const Scheme& from, Scheme& to, bool skip_existing) {
  std::vector<std::string> names = from.names();
  for (int pass = 0; pass < 2; ++pass) {
    for (const std::string& name : names) {
      const NodeKind* kind = from.Find(name);
      const bool is_alias = kind->name != name;
      if (is_alias != (pass == 1)) continue;
      if (skip_existing && to.Find(name) != nullptr) continue;
      Status s = is_alias ? to.Alias(name, kind->name) : to.Register(*kind);
      if (!s) return s;
    }
  }
  return {};
}

}  // namespace

Status LoadPlugin(Scheme& scheme, const std::string& path) {
  // A bare file name is a file here, not a library to search LD_LIBRARY_PATH for.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return PluginError(ErrorCode::kNotFound, path, "no such file");
  }

  // RTLD_NOW: a missing symbol fails here, with the linker's message, not mid-trace.
  // RTLD_LOCAL: plugins do not see each other's symbols (each exports the same entry
  // points). Never dlclose'd (plugin.h).
  dlerror();
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return PluginError(ErrorCode::kInvalidArgument, path, "cannot open: " + DlError());
  }

  dlerror();
  auto abi_version = reinterpret_cast<AbiVersionFn>(dlsym(handle, kPluginAbiSymbol));
  if (abi_version == nullptr) {
    return PluginError(ErrorCode::kInvalidArgument, path,
                       std::string("not an EPOS plugin (it has no ") + kPluginAbiSymbol +
                           "; a plugin declares itself with EPOS_PLUGIN)");
  }
  const std::uint32_t version = abi_version();
  if (version != kPluginAbiVersion) {
    return PluginError(ErrorCode::kInvalidArgument, path,
                       "built for plugin ABI " + std::to_string(version) + ", this epos has " +
                           std::to_string(kPluginAbiVersion) + "; rebuild it against this epos");
  }
  auto register_fn = reinterpret_cast<RegisterFn>(dlsym(handle, kPluginRegisterSymbol));
  if (register_fn == nullptr) {
    return PluginError(ErrorCode::kInvalidArgument, path,
                       std::string("not an EPOS plugin (it has no ") + kPluginRegisterSymbol + ")");
  }

  // The plugin registers into a staging copy, which it may read (Find, Alias to a
  // built-in kind); only what it added is then moved over, so a failure changes nothing.
  Scheme staging;
  if (Status s = CopyKinds(scheme, staging, /*skip_existing=*/false); !s) {
    return PluginError(ErrorCode::kInternal, path, s.error().message);
  }
  std::array<char, 1024> error{};
  if (register_fn(&staging, error.data(), error.size()) != 0) {
    std::string message = error[0] != '\0' ? error.data() : "failed without a message";
    return PluginError(ErrorCode::kInvalidArgument, path, "register: " + message);
  }
  if (Status s = CopyKinds(staging, scheme, /*skip_existing=*/true); !s) {
    return PluginError(ErrorCode::kInternal, path, s.error().message);
  }
  return {};
}

}  // namespace epos
