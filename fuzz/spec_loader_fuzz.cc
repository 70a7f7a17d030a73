// libFuzzer target for the spec loader (EPOS_BUILD_FUZZ=ON, clang++): any bytes must load
// or yield diagnostics, without a crash, a sanitizer report, a hang or unbounded memory.
//
//   build-fuzz/epos_spec_loader_fuzz -max_total_time=60 -rss_limit_mb=2048 -max_len=4096 \
//       fuzz/corpus/spec_loader
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "epos/spec/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto specs = epos::LoadSpecText(text, "fuzz.yaml");
  (void)specs;
  return 0;
}
