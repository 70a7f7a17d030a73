// Port numbering and port names (DESIGN.md §3).
//
// Output ports: `out` is out[0], `out[i]` is index i, `error` is kErrorPort.
// Input ports: `in` is in[0], `in[i]` is index i. Two reserved input indices carry the
// completions of a node's own asynchronous operations back to it (kResumePort,
// kResumeErrorPort); they never appear in specs.
//
// Thread-safety: pure functions.
#ifndef EPOS_GRAPH_PORT_H_
#define EPOS_GRAPH_PORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "epos/core/status.h"

namespace epos {

using NodeId = std::uint32_t;
using PortIndex = std::uint16_t;

inline constexpr NodeId kInvalidNode = 0xFFFFFFFF;

// Highest usable index of an indexed port, so out[i]/in[i] stay clear of reserved ones.
inline constexpr PortIndex kMaxPortIndex = 0x0FFF;
inline constexpr PortIndex kErrorPort = 0xFFFF;        // output "error"
inline constexpr PortIndex kResumePort = 0xFFFE;       // input: async operation done
inline constexpr PortIndex kResumeErrorPort = 0xFFFD;  // input: async operation failed
inline constexpr PortIndex kAbandonPort = 0xFFFC;      // input: async op dropped (internal)

// "out" → 0, "out[3]" → 3, "error" → kErrorPort. Errors name the bad text.
[[nodiscard]] Result<PortIndex> ParseOutPort(std::string_view name);
// "in" → 0, "in[2]" → 2.
[[nodiscard]] Result<PortIndex> ParseInPort(std::string_view name);

// Inverse of the parsers: 0 → "out", 3 → "out[3]", kErrorPort → "error".
std::string OutPortName(PortIndex port);
std::string InPortName(PortIndex port);

}  // namespace epos

#endif  // EPOS_GRAPH_PORT_H_
