#include "logwatch/pattern_rewrite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hw::logwatch {
namespace {

TEST(StripGroupNamesTest, RewritesNamedGroupsOnly) {
  EXPECT_EQ(StripGroupNames(R"(" (?P<status>5\d\d) )"), R"(" (5\d\d) )");
  EXPECT_EQ(StripGroupNames(R"((?<a>x)(?:y)(?i)z)"), R"((x)(?:y)(?i)z)");
  EXPECT_EQ(StripGroupNames(R"(\(?P<a>[(?P<b>])"), R"(\(?P<a>[(?P<b>])");
}

TEST(LineBoundTest, TakesNewlinesOutOfClassesAndGivesUpOnTextAnchors) {
  EXPECT_EQ(LineBound(R"(a\sb)"), R"(a[\t\f\r\x20]b)");
  EXPECT_EQ(LineBound(R"(\(([^)]+)\))"), R"(\(([^)\n]+)\))");
  EXPECT_EQ(LineBound(R"([^]a]x)"), R"([^]a\n]x)");
  EXPECT_EQ(LineBound(R"([\s,]\S\D\W)"), R"([\t\f\r\x20,][^\t\n\f\r\x20][^\n0-9][^\n0-9A-Za-z_])");
  EXPECT_EQ(LineBound(R"((?i)^x.y$)"), R"((?i)^x.y$)");
  EXPECT_EQ(LineBound(R"(\Afoo)"), "");
  EXPECT_EQ(LineBound(R"(foo\z)"), "");
  EXPECT_EQ(LineBound(R"((?s)a.b)"), "");
  EXPECT_EQ(LineBound(R"((?is:a.b))"), "");
  EXPECT_EQ(LineBound(R"((?i-s)a.b)"), R"((?i-s)a.b)");
  EXPECT_EQ(LineBound(R"([[:space:]]x)"), "");
  EXPECT_EQ(LineBound(R"(x\x41)"), "");
  EXPECT_EQ(LineBound("caf\xe9"), "");
}

TEST(TrimTailTest, CutsAFinalRepeatToItsLeast) {
  EXPECT_EQ(TrimTail(R"(from (\S+))"), R"(from (\S))");
  EXPECT_EQ(TrimTail(R"(from (?:a|b+?))"), R"(from (?:a|b))");
  EXPECT_EQ(TrimTail(R"(x\d{2,5})"), R"(x\d{2})");
  EXPECT_EQ(TrimTail(R"(x\d{3,})"), R"(x\d{3})");
  EXPECT_EQ(TrimTail(R"(x\d{3})"), R"(x\d{3})");
  EXPECT_EQ(TrimTail(R"(a\+)"), R"(a\+)");
  EXPECT_EQ(TrimTail(R"(a\))"), R"(a\))");
  EXPECT_EQ(TrimTail(R"(\d+ms$)"), R"(\d+ms$)");
  EXPECT_EQ(TrimTail(R"(a\{2,3})"), R"(a\{2,3})");
}

TEST(RequiredAtomsTest, KeepsOnlyLiteralsEveryMatchContains) {
  EXPECT_THAT(RequiredAtoms("sshd.*Failed password"),
              ::testing::UnorderedElementsAre("sshd", "failed password"));
  // The filter joins each alternative with what follows it ("kernel: oops" OR "systemd: oops"):
  // a match needs one of them, neither on its own.
  EXPECT_THAT(RequiredAtoms("(kernel|systemd): oops"), ::testing::IsEmpty());
  EXPECT_THAT(RequiredAtoms(".*"), ::testing::IsEmpty());
}

TEST(EscapeLiteralTest, HexEscapesEverythingButLettersAndDigits) {
  EXPECT_EQ(EscapeLiteral("sshd[1]"), "sshd\\x5b1\\x5d");
  EXPECT_EQ(EscapeLiteral("a b"), "a\\x20b");
}

}  // namespace
}  // namespace hw::logwatch
