#include "logwatch/tail_matcher.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <string>
#include <vector>

namespace hw::logwatch {
namespace {

// RE2's answer to "does the tail match text from at on": anchored at at, in Latin-1.
bool Re2MatchesAt(const RE2& re, std::string_view text, size_t at) {
  return re.Match(re2::StringPiece(text.data(), text.size()), at, text.size(), RE2::ANCHOR_START,
                  nullptr, 0);
}

std::vector<std::string> Texts() {
  // Small alphabet, every length to 7, then a few lines: the automaton's corners show up on short
  // texts; the lines are what it meets.
  const std::string alphabet = "a1.\" ]Xms";
  std::vector<std::string> out = {""};
  for (size_t len = 1; len <= 4; ++len) {
    const size_t before = out.size();
    for (size_t k = 0; k < before; ++k) {
      if (out[k].size() != len - 1) continue;
      for (const char c : alphabet) out.push_back(out[k] + c);
    }
  }
  for (const char* l :
       {"\"curl/8.1\"", "\"curl/8.1\" x", "curl/\"", " 1234ms", " 12ms", " 1234msx",
        "12]: level=warn ", "12]: level=error x", "9]: LEVEL=Error ", "[21/Nov] \"POST /x",
        "[21/Nov] \"PUT ", "x route=/users-list took 5ms", "x route=/users-list", "\tA\r\x0b",
        "\xe9\xc9 ab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
        "1a1a1aa1a1.", "a1a1a1a1a.", "aa11a1a1a1a."}) {
    out.emplace_back(l);
  }
  return out;
}

TEST(TailMatcherTest, AgreesWithRe2AnchoredAtEveryPlace) {
  const std::vector<std::string> tails = {
      R"([\d.]+"$)", R"(\d{3,}ms$)", R"(\d+ms)", R"(\d+\]: level=(?:error|warn) )",
      R"(\d+\]: LEVEL=ERROR )", R"([^]]+\] "(?:POST|PUT) )", R"(.*route=/users-list )",
      R"(\s*\d+\.\d+\])", R"((?:up|down))", R"(a?a?a?aaa)", R"((a|1)*\.)", R"((?:a*)*1)",
      R"(x{0}a)", R"(a{2,3}$)", R"(a{2}1?)", R"((?P<ms>\d+)ms)", R"((?:)a)", R"([a-c\]1-2]+)",
      R"([^a\d]m)", R"(\S+ \w\W)", R"(\D\s)", R"([\-.]1)", R"(a+?1??)", R"(\"[ -~]+)", R"(\.|m)",
      R"((?:a|)s$)", R"((a|a1)(\.|1\.))", R"(ms$)", R"(.)", R"(X)",
      // 2^8 DFA states: the word of states serves it
      R"((?:a|1)*a(?:a|1){7}\.)"};
  const std::vector<std::string> texts = Texts();
  size_t checked = 0, matched = 0, deterministic = 0;
  for (const std::string& tail : tails) {
    for (const bool caseless : {false, true}) {
      auto m = TailMatcher::Parse(tail, caseless);
      ASSERT_TRUE(m.has_value()) << tail;
      RE2::Options opts;
      opts.set_encoding(RE2::Options::EncodingLatin1);
      opts.set_case_sensitive(!caseless);
      const RE2 re(tail, opts);
      ASSERT_TRUE(re.ok()) << tail;
      deterministic += m->deterministic();
      for (const std::string& text : texts) {
        for (size_t at = 0; at <= text.size(); ++at) {
          const bool want = Re2MatchesAt(re, text, at);
          ASSERT_EQ(m->MatchesAt(text, at), want)
              << "tail " << tail << (caseless ? " (?i)" : "") << " text [" << text << "] at " << at;
          ASSERT_EQ(m->MatchesAtNfa(text, at), want)
              << "tail " << tail << (caseless ? " (?i)" : "") << " text [" << text << "] at " << at;
          ++checked;
          matched += want;
        }
      }
    }
  }
  EXPECT_GT(matched, checked / 50);  // the texts do match the tails, often enough to tell
  EXPECT_EQ(deterministic, 2 * tails.size() - 2);  // all but the last have a DFA
}

// A buffer of lines (a read chunk): a tail ends at its line's newline, and `$` matches before it.
TEST(TailMatcherTest, StopsAtTheEndOfItsLine) {
  const std::string chunk = "x a] POST\ny \"8.1\"\nz";
  EXPECT_TRUE(TailMatcher::Parse(R"([^]]+\] POST$)", false)->MatchesAt(chunk, 1));
  EXPECT_FALSE(TailMatcher::Parse(R"([^]]+\] POST y)", false)->MatchesAt(chunk, 1));
  EXPECT_FALSE(TailMatcher::Parse(R"(.*y)", false)->MatchesAt(chunk, 0));
  EXPECT_FALSE(TailMatcher::Parse(R"(POST\s)", false)->MatchesAt(chunk, 5));
  EXPECT_FALSE(TailMatcher::Parse(R"(POST\n)", false)->MatchesAt(chunk, 5));
  EXPECT_TRUE(TailMatcher::Parse(R"([\d.]+"$)", false)->MatchesAt(chunk, 13));
  EXPECT_FALSE(TailMatcher::Parse(R"([\d.]+"$)", false)->MatchesAt(chunk, 12));
  EXPECT_TRUE(TailMatcher::Parse(R"((?:)$)", false)->MatchesAt(chunk, 9));
  EXPECT_TRUE(TailMatcher::Parse(R"(z$)", false)->MatchesAt(chunk, chunk.size() - 1));
  EXPECT_TRUE(TailMatcher::Parse(R"(z$)", false)->MatchesAtNfa(chunk, chunk.size() - 1));
  EXPECT_FALSE(TailMatcher::Parse(R"(.*y)", false)->MatchesAtNfa(chunk, 0));
}

TEST(TailMatcherTest, RefusesWhatItDoesNotTake) {
  for (const char* tail :
       {R"(\bx)", "^a", R"(a\z)", R"(\x41)", "(?i)a", "(?s:.)", "[[:alpha:]]", "a$b", "(a$)",
        "a|b$", "\xe9", R"(\Qa\E)", "a{2,1}", "a{x}", R"(\1)", "a{100}", "(?:a{8}){9}"}) {
    EXPECT_FALSE(TailMatcher::Parse(tail, false).has_value()) << tail;
  }
  EXPECT_FALSE(TailMatcher::Parse("a", false)->MatchesAt("a", 2));  // past the end
}

}  // namespace
}  // namespace hw::logwatch
