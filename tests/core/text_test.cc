#include "epos/core/text.h"

#include <gtest/gtest.h>

namespace epos {
namespace {

using std::chrono::nanoseconds;

TEST(TextTest, EditDistance) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("snippet", "snipet"), 1u);
}

TEST(TextTest, ClosestMatchOnlyForLikelyTypos) {
  std::vector<std::string> kinds = {"snippet", "split", "switch", "sleep"};
  EXPECT_EQ(ClosestMatch("snipet", kinds), "snippet");
  EXPECT_EQ(ClosestMatch("swich", kinds), "switch");
  EXPECT_EQ(ClosestMatch("zzzzzz", kinds), "");
  EXPECT_EQ(ClosestMatch("ab", {"xy"}), "");  // two edits on two letters is no typo
  EXPECT_EQ(ClosestMatch("split", kinds), "");
  EXPECT_EQ(DidYouMean("sleeep", kinds), "; did you mean \"sleep\"?");
}

TEST(TextTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("250ms"), nanoseconds(250'000'000));
  EXPECT_EQ(*ParseDuration("1.5s"), nanoseconds(1'500'000'000));
  EXPECT_EQ(*ParseDuration("1m30s"), nanoseconds(90'000'000'000));
  EXPECT_EQ(*ParseDuration("2h"), nanoseconds(7'200'000'000'000));
  EXPECT_EQ(*ParseDuration("10us"), nanoseconds(10'000));
  EXPECT_EQ(*ParseDuration("7ns"), nanoseconds(7));
  EXPECT_EQ(*ParseDuration("3"), nanoseconds(3'000'000'000));
  EXPECT_EQ(*ParseDuration("0"), nanoseconds(0));
}

TEST(TextTest, RejectsBadDurations) {
  for (const char* bad : {"", "ms", "5 ms", "-1s", "1x", "1..2s", "s5", "1s2", "."}) {
    auto d = ParseDuration(bad);
    EXPECT_FALSE(d) << bad;
    if (!d) {
      EXPECT_EQ(d.error().message,
                std::string("bad duration \"") + bad +
                    "\": expected a number and a unit (ns, us, ms, s, m, h), e.g. \"250ms\"");
    }
  }
}

TEST(TextTest, ParsesByteSizes) {
  EXPECT_EQ(ParseByteSize("1MiB").value(), 1u << 20);
  EXPECT_EQ(ParseByteSize("2 kb").value(), 2000u);
  EXPECT_EQ(ParseByteSize("1.5KiB").value(), 1536u);
  EXPECT_EQ(ParseByteSize("512").value(), 512u);
  EXPECT_FALSE(ParseByteSize("1.5B").has_value());
  EXPECT_FALSE(ParseByteSize("MiB").has_value());
  EXPECT_FALSE(ParseByteSize("1 parsec").has_value());
}

TEST(TextTest, FormatsDurations) {
  EXPECT_EQ(FormatDuration(nanoseconds(250'000'000)), "250ms");
  EXPECT_EQ(FormatDuration(nanoseconds(1'500'000'000)), "1500ms");
  EXPECT_EQ(FormatDuration(nanoseconds(120'000'000'000)), "2m");
  EXPECT_EQ(FormatDuration(nanoseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(nanoseconds(7)), "7ns");
}

}  // namespace
}  // namespace epos
