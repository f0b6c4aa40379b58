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

TEST(PatternRewriteTest, SplitGreedyTailTakesOnlyTheShapeItIsRightFor) {
  GreedyTail t;
  ASSERT_TRUE(SplitGreedyTail(R"(svc\[\d+\]: .* took (?P<ms>\d+)ms)", &t));
  EXPECT_EQ(t.tail, R"( took (?P<ms>\d+)ms)");
  EXPECT_EQ(t.literal, " took ");
  ASSERT_TRUE(SplitGreedyTail(R"(a.*b.*\[x\]s?(?P<v>\d))", &t));  // the last .*
  EXPECT_EQ(t.literal, "[x]");                                    // s? is not required
  ASSERT_TRUE(SplitGreedyTail(R"([.*]x.*y(?P<v>\d))", &t));       // .* in a class is no split
  EXPECT_EQ(t.tail, R"(y(?P<v>\d))");
  EXPECT_FALSE(SplitGreedyTail(R"(a(?:b.*)c(?P<v>\d))", &t));    // .* inside a group only
  EXPECT_FALSE(SplitGreedyTail(R"(a.*?b(?P<v>\d))", &t));        // lazy
  EXPECT_FALSE(SplitGreedyTail(R"(a.*b|c(?P<v>\d))", &t));       // top-level alternation
  EXPECT_FALSE(SplitGreedyTail(R"((?i)a.*b(?P<v>\d))", &t));     // flags reach into T
  EXPECT_FALSE(SplitGreedyTail(R"((?P<x>a).*b(?P<v>\d))", &t));  // a named group in A
  EXPECT_FALSE(SplitGreedyTail(R"(a.*(?P<v>\d)b)", &t));         // T starts with no literal
  EXPECT_FALSE(SplitGreedyTail(R"(a.*\d+b(?P<v>\d))", &t));
  EXPECT_FALSE(SplitGreedyTail(R"(a\Q.*\Eb(?P<v>\d))", &t));  // quoted
  EXPECT_FALSE(SplitGreedyTail(R"(a\.*b(?P<v>\d))", &t));     // an escaped dot: no .* at all
}

TEST(PatternRewriteTest, ParseDigitsTailTakesOnlyLiteralsAroundOneRunOfDigits) {
  DigitsTail d;
  ASSERT_TRUE(ParseDigitsTail(R"( took (?P<ms>\d+)ms)", &d));
  EXPECT_EQ(d.before, " took ");
  EXPECT_EQ(d.name, "ms");
  EXPECT_EQ(d.after, "ms");
  EXPECT_FALSE(d.at_end);
  ASSERT_TRUE(ParseDigitsTail(R"(\[bytes=(?P<n>[0-9]+)\] \.$)", &d));
  EXPECT_EQ(d.before, "[bytes=");
  EXPECT_EQ(d.after, "] .");
  EXPECT_TRUE(d.at_end);
  ASSERT_TRUE(ParseDigitsTail(R"(id=(?P<id>\d+))", &d));
  EXPECT_EQ(d.after, "");
  EXPECT_FALSE(ParseDigitsTail(R"((?P<ms>\d+)ms)", &d));         // nothing before: no places to try
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d+)5ms)", &d));  // the run could give a digit back
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d*)ms)", &d));   // may be empty
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d+?)ms)", &d));  // lazy
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d+)m?s)", &d));  // a quantifier after
  EXPECT_FALSE(ParseDigitsTail(R"( tooks? (?P<ms>\d+)ms)", &d));       // ... or before
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d+)\bms)", &d));       // an assertion
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d+)(?P<u>ms))", &d));  // two groups
  EXPECT_FALSE(ParseDigitsTail(R"( took (\d+)ms)", &d));               // no name
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d+)ms$x)", &d));       // $ not at the end
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\d+)ms|x)", &d));
  EXPECT_FALSE(ParseDigitsTail(R"( took (?P<ms>\w+)ms)", &d));
  // Without a group (the A of `svc\[\d+\]: .* took ...`).
  ASSERT_TRUE(ParseDigitsTail(R"(svc\[\d+\]: )", &d));
  EXPECT_EQ(d.before, "svc[");
  EXPECT_EQ(d.name, "");
  EXPECT_EQ(d.after, "]: ");
  EXPECT_FALSE(ParseDigitsTail(R"(svc\[\d+?\]: )", &d));
  EXPECT_FALSE(ParseDigitsTail(R"(svc\[\d+\d\]: )", &d));
  EXPECT_FALSE(ParseDigitsTail(R"(^svc\[\d+\]: )", &d));  // an anchor
  EXPECT_FALSE(ParseDigitsTail(R"(svc\[(?:\d+)\]: )", &d));
}

TEST(PatternRewriteTest, SplitsAfterATopLevelLiteral) {
  HeadTail cut;
  ASSERT_TRUE(SplitAfterLiteral(R"re((?i)"curl/[\d.]+"$)re", "\"curl/", &cut));
  EXPECT_EQ(cut.head, R"re((?i)"curl/)re");
  EXPECT_EQ(cut.tail, R"re([\d.]+"$)re");
  EXPECT_TRUE(cut.caseless);
  ASSERT_TRUE(SplitAfterLiteral(R"(api\[\d+\]: level=(?:error|warn) )", "api[", &cut));
  EXPECT_EQ(cut.head, R"(api\[)");
  EXPECT_EQ(cut.tail, R"(\d+\]: level=(?:error|warn) )");
  EXPECT_FALSE(cut.caseless);
  // Inside a run: the cut follows the literal, not the run.
  ASSERT_TRUE(SplitAfterLiteral("route=/x took \\d+", "route=/x", &cut));
  EXPECT_EQ(cut.tail, " took \\d+");
  // Not on the top level, quantified, behind a top-level `|`, or nothing after it.
  EXPECT_FALSE(SplitAfterLiteral("(?:abc)d+", "abc", &cut));
  EXPECT_FALSE(SplitAfterLiteral("abcd?x", "abcd", &cut));
  EXPECT_FALSE(SplitAfterLiteral("abc\\d|x", "abc", &cut));
  EXPECT_FALSE(SplitAfterLiteral("x\\d+abc", "abc", &cut));
  EXPECT_FALSE(SplitAfterLiteral("a(?i)bcd\\d", "bcd", &cut));
  EXPECT_EQ(TopLevelLiterals(R"(GET /x/\d+ HTTP/1\.[01]")"),
            (std::vector<std::string>{"get /x/", " http/1.", "\""}));
  EXPECT_EQ(TopLevelLiterals(R"(Failed (?:for )?(?P<u>x) from)"),
            (std::vector<std::string>{"failed ", " from"}));
}

}  // namespace
}  // namespace hw::logwatch
