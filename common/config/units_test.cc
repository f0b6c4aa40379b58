#include "common/config/units.h"

#include <gtest/gtest.h>

namespace hw::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDurationTest, AcceptsEveryUnit) {
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("10s"), milliseconds(10'000));
  EXPECT_EQ(*ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(*ParseDuration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(*ParseDuration("7d"), milliseconds(604'800'000));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
}

TEST(ParseDurationTest, AcceptsCompoundTerms) {
  EXPECT_EQ(*ParseDuration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*ParseDuration("1m500ms"), milliseconds(60'500));
}

TEST(ParseDurationTest, RejectsGarbage) {
  for (const char* bad : {"", "10x", "10", "s", "-5s", "1.5s", " 10s", "10s ", "10 s", "10S", "ms",
                          "99999999999999999999d", "9999999999999999d"}) {
    Result<Duration> r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\"";
  }
  EXPECT_EQ(ParseDuration("10x").status().message(),
            "\"10x\" is not a duration (use e.g. 250ms, 10s, 5m, 2h, 7d)");
}

TEST(FormatDurationTest, ShortestExactSpelling) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(FormatDuration(milliseconds(300'000)), "5m");
  EXPECT_EQ(FormatDuration(milliseconds(604'800'000)), "7d");
}

TEST(FormatDurationTest, RoundTrips) {
  for (int64_t ms : {1LL, 100LL, 999LL, 1000LL, 61000LL, 3600000LL, 259200000LL}) {
    EXPECT_EQ(*ParseDuration(FormatDuration(milliseconds(ms))), milliseconds(ms));
  }
}

TEST(ParseSizeTest, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("100B"), 100u);
  EXPECT_EQ(*ParseSize("512KiB"), 512u * 1024);
  EXPECT_EQ(*ParseSize("64MiB"), 64ull << 20);
  EXPECT_EQ(*ParseSize("10GiB"), 10ull << 30);
  EXPECT_EQ(*ParseSize("2TiB"), 2ull << 40);
  EXPECT_EQ(*ParseSize("5MB"), 5'000'000u);
  EXPECT_EQ(*ParseSize("1.5KiB"), 1536u);
  EXPECT_EQ(*ParseSize("0.5MiB"), 512u * 1024);
}

TEST(ParseSizeTest, RejectsGarbage) {
  for (const char* bad : {"", "MiB", "64mib", "64 MiB", "-1", "1.5B", "1..5KiB", "1.KiB",
                          "99999999999999999999", "20000000TiB", "64MiBx"}) {
    EXPECT_FALSE(ParseSize(bad).ok()) << "accepted \"" << bad << "\"";
  }
}

TEST(FormatSizeTest, LargestExactBinaryUnit) {
  EXPECT_EQ(FormatSize(0), "0B");
  EXPECT_EQ(FormatSize(1000), "1000B");
  EXPECT_EQ(FormatSize(1024), "1KiB");
  EXPECT_EQ(FormatSize(64ull << 20), "64MiB");
  EXPECT_EQ(FormatSize(10ull << 30), "10GiB");
  EXPECT_EQ(*ParseSize(FormatSize(3ull << 40)), 3ull << 40);
}

}  // namespace
}  // namespace hw::config
