// A plugin built for another plugin ABI: LoadPlugin must refuse it before calling it.
#include <cstddef>
#include <cstdint>

namespace epos {
class Scheme;
}  // namespace epos

extern "C" __attribute__((visibility("default"))) std::uint32_t epos_plugin_abi_version(void) {
  return 999;
}

extern "C" __attribute__((visibility("default"))) int epos_plugin_register_v1(epos::Scheme*, char*,
                                                                              std::size_t) {
  __builtin_trap();  // never called
}
