#include "common/strings/strings.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string_view>
#include <vector>

#include "common/strings/fnv1a.h"

namespace hw::strings {
namespace {

using Pieces = std::vector<std::string_view>;

TEST(TrimTest, DropsSpacesTabsAndLineEndsAtBothEnds) {
  EXPECT_EQ(Trim("  a b\t\r\n"), "a b");
  EXPECT_EQ(Trim("\t\n"), "");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim("x"), "x");
}

TEST(SplitFieldsTest, RunsOfSpacesAndTabsSeparateAndNoFieldIsEmpty) {
  EXPECT_EQ(SplitFields("cpu  1 2\t\t3 "), (Pieces{"cpu", "1", "2", "3"}));
  EXPECT_EQ(SplitFields("   "), Pieces{});
  EXPECT_EQ(SplitFields(""), Pieces{});
}

TEST(FirstFieldTest, FirstFieldAndTheRest) {
  std::string_view rest;
  EXPECT_EQ(FirstField("pgmajfault 1234", &rest), "pgmajfault");
  EXPECT_EQ(rest, " 1234");
  EXPECT_EQ(FirstField("  \t 4096 kB"), "4096");
  EXPECT_EQ(FirstField("", &rest), "");
  EXPECT_EQ(rest, "");
}

TEST(SplitTest, KeepsEveryPieceIncludingEmptyOnes) {
  EXPECT_EQ(Split("a,b", ','), (Pieces{"a", "b"}));
  EXPECT_EQ(Split("a,,b,", ','), (Pieces{"a", "", "b", ""}));
  EXPECT_EQ(Split("", ','), Pieces{""});
  EXPECT_EQ(Split("abc", ';'), Pieces{"abc"});
}

TEST(ForEachLineTest, LastLineMayLackANewline) {
  Pieces lines;
  ForEachLine("a\n\nb", [&](std::string_view l) { lines.push_back(l); });
  EXPECT_EQ(lines, (Pieces{"a", "", "b"}));
  lines.clear();
  ForEachLine("a\n", [&](std::string_view l) { lines.push_back(l); });
  EXPECT_EQ(lines, Pieces{"a"});
}

TEST(ParseNumberTest, ReadsTheWholeTextOrNothing) {
  EXPECT_EQ(ParseNumber<uint64_t>("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseNumber<int64_t>("-42"), -42);
  EXPECT_EQ(ParseNumber<uint32_t>("4294967295"), UINT32_MAX);
  EXPECT_EQ(ParseNumber<double>("0.25"), 0.25);
  EXPECT_EQ(ParseNumber<uint64_t>("ff", 16), 255u);

  EXPECT_EQ(ParseNumber<uint64_t>(""), std::nullopt);
  EXPECT_EQ(ParseNumber<uint64_t>("12x"), std::nullopt);
  EXPECT_EQ(ParseNumber<uint64_t>(" 12"), std::nullopt);
  EXPECT_EQ(ParseNumber<uint64_t>("-1"), std::nullopt);
  EXPECT_EQ(ParseNumber<uint64_t>("+1"), std::nullopt);
  EXPECT_EQ(ParseNumber<uint32_t>("4294967296"), std::nullopt);  // out of range
  EXPECT_EQ(ParseNumber<uint64_t>("18446744073709551616"), std::nullopt);
  EXPECT_EQ(ParseNumber<double>("+1.5"), std::nullopt);
  EXPECT_EQ(ParseNumber<double>("1.5 "), std::nullopt);
}

TEST(ParseNumberTest, ShorthandsForU64I64AndDouble) {
  EXPECT_EQ(ParseU64("7"), 7u);
  EXPECT_EQ(ParseU64("-7"), std::nullopt);
  EXPECT_EQ(ParseI64("-7"), -7);
  // ParseDouble also takes the '+' that scripts print before positive values.
  EXPECT_EQ(ParseDouble("+1.5"), 1.5);
  EXPECT_EQ(ParseDouble("-1e3"), -1000.0);
  EXPECT_EQ(ParseDouble("+"), std::nullopt);
  EXPECT_EQ(ParseDouble(""), std::nullopt);
  std::optional<double> nan = ParseDouble("nan");
  ASSERT_TRUE(nan.has_value());
  EXPECT_TRUE(std::isnan(*nan));
}

TEST(Fnv1a64Test, KnownVectors) {
  // From the FNV reference test suite.
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
  static_assert(Fnv1a64("") == kFnv1a64OffsetBasis);
}

TEST(Fnv1a64Test, BytesAboveSevenBitsHashAsUnsigned) {
  // A plain char is signed on x86: "\xff" must be folded in as 0xff, not sign-extended.
  EXPECT_EQ(Fnv1a64("\xff"), (kFnv1a64OffsetBasis ^ 0xffull) * kFnv1a64Prime);
}

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlBytesAndKeepsUtf8) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(JsonString(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonString(std::string("nul\0", 4)), "\"nul\\u0000\"");
  EXPECT_EQ(JsonString("h\xc3\xa9llo"), "\"h\xc3\xa9llo\"");
  std::string out = "[";
  AppendJsonString("x", &out);
  EXPECT_EQ(out, "[\"x\"");
}

}  // namespace
}  // namespace hw::strings
