// Small text utilities shared by the spec compiler, the graph builder and the CLI: the
// closest-name hint behind "did you mean ...?" and duration literals.
//
// Thread-safety: pure functions.
#ifndef EPOS_CORE_TEXT_H_
#define EPOS_CORE_TEXT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "epos/core/status.h"

namespace epos {

// Levenshtein edit distance (insertions, deletions, substitutions each cost 1), in
// O(|a|·|b|) time and O(|b|) space (Wagner–Fischer, 1974).
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `name` by EditDistance when it is close enough to be a likely
// typo: at most 2 edits, and fewer than half of `name`'s length; ties go to the first
// candidate. Empty when none qualifies or `name` is itself a candidate.
std::string ClosestMatch(std::string_view name, const std::vector<std::string>& candidates);

// `; did you mean "X"?` for ClosestMatch, or "" when there is none.
std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates);

// A duration literal: a number (integer or decimal) followed by a unit ns, us (or µs), ms,
// s, m, h, or a sequence of such terms as in Go's time.ParseDuration ("1m30s", "1.5s"). A
// bare number is seconds. Negative durations are rejected. Errors: kInvalidArgument
// `bad duration "TEXT": expected a number and a unit (ns, us, ms, s, m, h), e.g. "250ms"`.
[[nodiscard]] Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

// A byte size: an integer or decimal number, optionally followed (spaces allowed) by a unit:
// B; KB, MB, GB (powers of 1000); KiB, MiB, GiB (powers of 1024). Units are matched
// case-insensitively except that "b" alone is bytes. A bare number is bytes. Errors:
// kInvalidArgument `bad size "TEXT": expected a number of bytes and a unit (B, KB, KiB, MB,
// MiB, GB, GiB), e.g. "1MiB"`.
[[nodiscard]] Result<std::uint64_t> ParseByteSize(std::string_view text);

// A duration in the largest unit that divides it exactly: "250ms", "1500ms", "2m", "0s".
std::string FormatDuration(std::chrono::nanoseconds duration);

}  // namespace epos

#endif  // EPOS_CORE_TEXT_H_
