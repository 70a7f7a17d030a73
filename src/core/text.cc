#include "epos/core/text.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>

namespace epos {

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string ClosestMatch(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  // Close enough to be a typo: at most 2 edits, and less than half the name.
  std::size_t limit = std::min<std::size_t>(2, (name.size() + 1) / 2);
  std::size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    if (candidate == name) return {};
    // The distance is at least the length difference: skip hopeless candidates cheaply.
    std::size_t gap = candidate.size() > name.size() ? candidate.size() - name.size()
                                                     : name.size() - candidate.size();
    if (gap >= best_distance) continue;
    std::size_t d = EditDistance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best = ClosestMatch(name, candidates);
  return best.empty() ? std::string() : "; did you mean \"" + best + "\"?";
}

namespace {

// Nanoseconds per unit, or 0 for an unknown unit.
std::int64_t UnitNanos(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1'000;
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  return 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad duration \"" + std::string(text) +
                         "\": expected a number and a unit (ns, us, ms, s, m, h), e.g. \"250ms\"");
  };
  if (text.empty()) return bad();
  long double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && (IsDigit(text[i]) || text[i] == '.')) ++i;
    std::string_view number = text.substr(start, i - start);
    if (number.empty() || std::count(number.begin(), number.end(), '.') > 1 || number == ".") {
      return bad();
    }
    std::size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t nanos = unit.empty() ? 1'000'000'000 : UnitNanos(unit);
    if (nanos == 0) return bad();
    if (unit.empty() && (start != 0 || i != text.size())) return bad();  // "5" alone only
    total += std::stold(std::string(number)) * static_cast<long double>(nanos);
  }
  if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return bad();
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total)));
}

Result<std::uint64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad size \"" + std::string(text) +
                         "\": expected a number of bytes and a unit (B, KB, KiB, MB, MiB, GB, "
                         "GiB), e.g. \"1MiB\"");
  };
  std::size_t i = 0;
  while (i < text.size() && (IsDigit(text[i]) || text[i] == '.')) ++i;
  std::string_view number = text.substr(0, i);
  if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1) {
    return bad();
  }
  while (i < text.size() && text[i] == ' ') ++i;
  std::string unit;
  for (char c : text.substr(i))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {{"", 1},
                                                                          {"b", 1},
                                                                          {"kb", 1000},
                                                                          {"kib", 1ULL << 10},
                                                                          {"mb", 1000'000},
                                                                          {"mib", 1ULL << 20},
                                                                          {"gb", 1000'000'000},
                                                                          {"gib", 1ULL << 30}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    long double bytes = std::stold(std::string(number)) * static_cast<long double>(scale);
    if (bytes > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return bad();
    if (bytes != std::floor(bytes)) return bad();  // "1.5B"
    return static_cast<std::uint64_t>(bytes);
  }
  return bad();
}

std::string FormatDuration(std::chrono::nanoseconds duration) {
  struct Unit {
    std::int64_t nanos;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
      {1'000'000, "ms"},        {1'000, "us"},         {1, "ns"}};
  std::int64_t n = duration.count();
  if (n == 0) return "0s";
  for (const Unit& u : kUnits) {
    if (n % u.nanos == 0) return std::to_string(n / u.nanos) + u.name;
  }
  return std::to_string(n) + "ns";
}

}  // namespace epos
