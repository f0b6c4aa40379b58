#include "logwatch/rule_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "logwatch/rule_set_fixture.h"

namespace hw::logwatch {
namespace {

TEST(RuleSetTest, PrefilterAndRe2AgreeAndCapture) {
  auto rs = RuleSet::Compile(
      {Rule("oom", R"(Out of memory: Killed process (?P<pid>\d+) \((?P<comm>[^)]+)\))",
            {"pid", "comm"}),
       Rule("fivexx", R"(" 5\d\d )")});
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_EQ((*rs)->unfiltered_patterns(), 0u);
  RuleSet::Scanner scanner(*rs);
  const std::string oom = "kernel: Out of memory: Killed process 4242 (worldserver) total-vm:1kB";
  const auto& hits = scanner.Scan(oom);
  EXPECT_TRUE(hits[0] & RuleSet::kMatchHit);
  EXPECT_FALSE(hits[1] & RuleSet::kMatchHit);
  std::vector<std::string_view> groups;
  ASSERT_TRUE((*rs)->Match(0, oom, &groups));
  EXPECT_THAT(groups, ::testing::ElementsAre("4242", "worldserver"));
  EXPECT_FALSE(scanner.Scan("GET / HTTP/1.1\" 200 12")[1] & RuleSet::kMatchHit);
  EXPECT_TRUE(scanner.Scan("GET / HTTP/1.1\" 502 12")[1] & RuleSet::kMatchHit);
}

// Rules that share a pattern (it is compiled once) are each hit, in a line scan and in a chunk,
// and a refused pattern shared by two rules falls back for both.
TEST(RuleSetTest, RulesSharingAPatternAreEachHit) {
  auto rs = RuleSet::Compile({Rule("a", R"(api\[\d+\]: .* took (?P<ms>\d+)ms)", {"ms"}),
                              Rule("other", "nothing here"),
                              Rule("b", R"(api\[\d+\]: .* took (?P<ms>\d+)ms)", {"ms"}),
                              Rule("u1", R"((?U)x.+z)"), Rule("u2", R"((?U)x.+z)")});
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_EQ((*rs)->unfiltered_patterns(), 2u);
  RuleSet::Scanner scanner(*rs);
  const std::string line = "api[12]: level=info took 34ms";
  std::vector<uint8_t> hits = scanner.Scan(line);
  EXPECT_TRUE(hits[0] & RuleSet::kMatchHit);
  EXPECT_FALSE(hits[1] & RuleSet::kMatchHit);
  EXPECT_TRUE(hits[2] & RuleSet::kMatchHit);
  EXPECT_TRUE(hits[3] & RuleSet::kMatchHit);  // always candidates
  EXPECT_TRUE(hits[4] & RuleSet::kMatchHit);
  const std::string chunk = "x\n" + line + "\n";
  scanner.set_scan_mode(RuleSet::Scanner::ScanMode::kChunk);
  scanner.ScanChunk(chunk);
  hits = scanner.HitsFor(std::string_view(chunk).substr(2, line.size()));
  EXPECT_EQ(scanner.lines_from_chunks(), 1u);
  EXPECT_TRUE(hits[0] & RuleSet::kMatchHit);
  EXPECT_FALSE(hits[1] & RuleSet::kMatchHit);
  EXPECT_TRUE(hits[2] & RuleSet::kMatchHit);
  EXPECT_THAT(scanner.hit_rules(), ::testing::UnorderedElementsAre(0u, 2u, 3u, 4u));
}

TEST(RuleSetTest, PatternVectorscanCannotTakeFallsBackToRe2) {
  // (?U) (swap greediness) is RE2-only: the rule must still match, through RE2 on every line.
  auto rs = RuleSet::Compile({Rule("ungreedy", R"((?U)x.+z)")});
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_EQ((*rs)->unfiltered_patterns(), 1u);
  RuleSet::Scanner scanner(*rs);
  EXPECT_TRUE(scanner.Scan("abc")[0] & RuleSet::kMatchHit);  // always a candidate
  EXPECT_TRUE((*rs)->Match(0, "..xyz..", nullptr));
  EXPECT_FALSE((*rs)->Match(0, "..xz..", nullptr));
}

TEST(RuleSetTest, BinaryAndInvalidUtf8LinesMatch) {
  auto rs = RuleSet::Compile({Rule("err", "ERROR (?P<code>\\w+)", {"code"})});
  ASSERT_TRUE(rs.ok());
  RuleSet::Scanner scanner(*rs);
  const std::string line = std::string("\xff\xfe\0\x01 ERROR E42 \xc3", 14);
  EXPECT_TRUE(scanner.Scan(line)[0] & RuleSet::kMatchHit);
  std::vector<std::string_view> g;
  ASSERT_TRUE((*rs)->Match(0, line, &g));
  EXPECT_EQ(g[0], "E42");
}

// The A.*T shortcut in Match answers as RE2 does with the whole pattern, match or not, with the
// same groups: on lines built from the tail's literal, digits, near misses and the head in every
// order (several places T could match, T before A), and patterns the shortcut must not take.
TEST(RuleSetTest, GreedyTailCapturesAreRe2s) {
  const std::vector<RuleConfig> rules = {
      Rule("took", R"(svc\[\d+\]: .* took (?P<ms>\d+)ms)", {"ms"}),
      Rule("two", R"(^(\w+) .*user=(?P<user>\w*) (?:id=(?P<id>\d+))?)", {"user", "id"}),
      Rule("nested", R"(svc.*x.* took (?P<ms>\d+)(?P<unit>m?s))", {"ms", "unit"}),
      Rule("lazy", R"(svc.*? took (?P<ms>\d+)ms)", {"ms"}),
      Rule("alt", R"(svc.* took (?P<ms>\d+)ms|took (?P<ms2>\d)s)", {"ms", "ms2"}),
      Rule("flags", R"((?i)svc.* TOOK (?P<ms>\d+)ms)", {"ms"}),
      Rule("end", R"(svc.* took (?P<ms>\d+)ms$)", {"ms"}),
      Rule("boundary", R"(svc.*\btook (?P<ms>\d+))", {"ms"}),
      // T read by hand (ParseDigitsTail), and near shapes RE2 keeps.
      Rule("bare", R"(svc\[\d+\]: .* took (?P<ms>[0-9]+))", {"ms"}),
      Rule("punct", R"(svc.*took (?P<ms>\d+)ms\.? x)", {"ms"}),
      Rule("digit-after", R"(svc.* took (?P<ms>\d+)7ms)", {"ms"}),
      Rule("other-name", R"(svc.* took (?P<ms>\d+)m)", {"unit"}),
      Rule("no-head", R"(.* took (?P<ms>\d+)ms)", {"ms"}),
      Rule("head-only", R"(svc\[\d+\]: .* took (?P<ms>\d+)m?s)", {"ms"}),
      Rule("anchored-head", R"(^svc\[\d+\]: .* took (?P<ms>\d+)ms)", {"ms"}),
      Rule("bare-head-digits", R"(svc\[[0-9]+\]: .*took 1(?P<ms>\d+)ms)", {"ms"}),
  };
  auto rs = RuleSet::Compile(rules);
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  const std::vector<std::string> parts = {"svc[1]: ", "svc[", " took ", "took ", "12",    "7",
                                          "ms",       "s",    " ",      "x",     "user=", "bob",
                                          "id=",      "9",    "TOOK ",  "\xff",  "ab",    ".",
                                          "m",        "1",    "]: ",    "svc[7"};
  std::vector<std::string_view> ms;
  EXPECT_FALSE((*rs)->Match(0, "a took 5ms svc[1]: b", &ms));  // T only before A
  ASSERT_TRUE((*rs)->Match(0, "svc[1]: took 1ms took 22ms took 3xms", &ms));
  EXPECT_EQ(ms,
            std::vector<std::string_view>{"22"});  // the last place T matches, not the last literal
  RE2::Options latin1;
  latin1.set_encoding(RE2::Options::EncodingLatin1);
  std::vector<std::unique_ptr<RE2>> reference;
  for (const RuleConfig& r : rules) reference.push_back(std::make_unique<RE2>(r.match, latin1));
  uint64_t seed = 12345;
  size_t matched = 0;
  const std::set<std::string> greedy = {
      "took",        "two",        "nested",  "end",       "bare",          "punct",
      "digit-after", "other-name", "no-head", "head-only", "anchored-head", "bare-head-digits"};
  const std::set<std::string> by_hand = {
      "took", "end", "bare", "other-name", "no-head", "anchored-head", "bare-head-digits"};
  const std::set<std::string> head_by_hand = {"took", "bare", "head-only", "bare-head-digits"};
  for (size_t r = 0; r < rules.size(); ++r) {
    EXPECT_EQ((*rs)->HasGreedyTail(r), greedy.count(rules[r].name) > 0) << rules[r].name;
    EXPECT_EQ((*rs)->HasDigitsTail(r), by_hand.count(rules[r].name) > 0) << rules[r].name;
    EXPECT_EQ((*rs)->HasDigitsHead(r), head_by_hand.count(rules[r].name) > 0) << rules[r].name;
  }
  for (int n = 0; n < 100000; ++n) {
    std::string line;
    const int len = 1 + static_cast<int>(seed % 9);
    for (int k = 0; k < len; ++k) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      line += parts[(seed >> 33) % parts.size()];
    }
    for (size_t r = 0; r < rules.size(); ++r) {
      std::vector<std::string_view> got;
      const bool m = (*rs)->Match(r, line, &got);
      const RE2& whole = *reference[r];
      std::vector<re2::StringPiece> sub(static_cast<size_t>(whole.NumberOfCapturingGroups()) + 1);
      const bool want = whole.Match(line, 0, line.size(), RE2::UNANCHORED, sub.data(),
                                    static_cast<int>(sub.size()));
      ASSERT_EQ(m, want) << rules[r].name << ": " << line;
      if (!want) continue;
      ++matched;
      ASSERT_EQ(got.size(), rules[r].captures.size());
      for (size_t g = 0; g < got.size(); ++g) {
        auto it = whole.NamedCapturingGroups().find(rules[r].captures[g]);
        const re2::StringPiece w = it == whole.NamedCapturingGroups().end()
                                       ? re2::StringPiece()
                                       : sub[static_cast<size_t>(it->second)];
        // The same bytes of the line, not only equal text.
        EXPECT_EQ(got[g].data(), w.data()) << rules[r].name << ": " << line;
        EXPECT_EQ(got[g].size(), w.size()) << rules[r].name << ": " << line;
      }
    }
  }
  EXPECT_GT(matched, 3000u);  // the generator does reach the patterns
}

TEST(RuleSetTest, ChunkHitsContainLineHitsAndPlainLiteralsStayExact) {
  auto rs = RuleSet::Compile(ChunkRules());
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  RuleSet::Scanner chunked(*rs), alone(*rs);
  chunked.set_scan_mode(RuleSet::Scanner::ScanMode::kChunk);
  uint64_t compared = 0, line_hits = 0;
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    const std::vector<std::string> lines = RandomLines(seed, 40);
    std::string chunk;
    for (const std::string& l : lines) chunk += l + "\n";
    if (seed % 2 == 0) chunk.pop_back();  // the last line may end the chunk without a newline
    chunked.ScanChunk(chunk);
    size_t at = 0;
    for (const std::string& l : lines) {
      const std::string_view in_chunk(chunk.data() + at, l.size());
      at += l.size() + 1;
      const std::vector<uint8_t> by_line = alone.Scan(l);
      const std::vector<uint8_t>& by_chunk = chunked.HitsFor(in_chunk);
      for (size_t r = 0; r < (*rs)->size(); ++r) {
        const uint8_t missing =
            by_line[r] & ~by_chunk[r] & (RuleSet::kMatchHit | RuleSet::kStartHit);
        EXPECT_EQ(missing, 0) << (*rs)->rule(r).name << " on \"" << l << "\"";
        if ((by_chunk[r] & RuleSet::kMatchHit) && chunked.HitIsExact(r)) {
          EXPECT_TRUE((*rs)->Match(r, l, nullptr)) << (*rs)->rule(r).name << " on \"" << l << "\"";
        }
        if ((by_line[r] & RuleSet::kMatchHit) != 0) ++line_hits;
        ++compared;
      }
    }
  }
  EXPECT_EQ(chunked.lines_from_chunks(), 200u * 40u);  // every line answered from its chunk
  EXPECT_GT(line_hits, compared / 20);                 // the pieces do hit the rules
  EXPECT_TRUE(chunked.HitIsExact(6));                  // "literal" is exact in chunks too
}

TEST(RuleSetTest, LinesThatAreNotWholeLinesOfTheChunkAreScannedAlone) {
  auto rs = RuleSet::Compile({Rule("start", "^foo")});
  ASSERT_TRUE(rs.ok());
  RuleSet::Scanner scanner(*rs);
  const std::string chunk = std::string("\0\0foo\nxfoo\n", 10);
  scanner.ScanChunk(chunk);
  // The tailer strips leading NULs: "^foo" matches the stripped line, though not in the chunk.
  EXPECT_TRUE(scanner.HitsFor(std::string_view(chunk).substr(2, 3))[0] & RuleSet::kMatchHit);
  EXPECT_EQ(scanner.lines_from_chunks(), 0u);
  // A head cut from a longer line is not a whole line either.
  EXPECT_FALSE(scanner.HitsFor(std::string_view(chunk).substr(6, 2))[0] & RuleSet::kMatchHit);
  EXPECT_EQ(scanner.lines_from_chunks(), 0u);
  // A whole line is answered from the chunk (with the literal "foo" the pattern requires, a
  // candidate that RE2 then rejects).
  scanner.HitsFor(std::string_view(chunk).substr(6, 4));
  EXPECT_EQ(scanner.lines_from_chunks(), 1u);
  scanner.ScanChunk({});  // forgotten: a view into it is scanned alone
  EXPECT_FALSE(scanner.HitsFor(std::string_view(chunk).substr(6, 4))[0] & RuleSet::kMatchHit);
  EXPECT_EQ(scanner.lines_from_chunks(), 1u);
}

// A line visits the rules it may match: the scanner lists them (each once), and the list is
// cleared with the next line, chunked or alone.
TEST(RuleSetTest, HitRulesListTheRulesOfThisLineOnly) {
  std::vector<RuleConfig> rules;
  for (int i = 0; i < 200; ++i)
    rules.push_back(Rule("r" + std::to_string(i), "code=" + std::to_string(i) + "x"));
  rules.push_back(Rule("ungreedy", R"((?U)q.+z)"));  // RE2 only: a candidate on every line
  auto rs = RuleSet::Compile(rules);
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  RuleSet::Scanner scanner(*rs);
  auto sorted = [&] {
    std::vector<uint32_t> v = scanner.hit_rules();
    std::sort(v.begin(), v.end());
    return v;
  };
  scanner.Scan("a code=7x b code=7x code=150x");
  EXPECT_THAT(sorted(), ::testing::ElementsAre(7, 150, 200));
  scanner.Scan("nothing");
  EXPECT_THAT(sorted(), ::testing::ElementsAre(200));
  const std::string chunk = "code=3x\nnone\ncode=199x code=0x\n";
  scanner.ScanChunk(chunk);
  EXPECT_TRUE(scanner.HitsFor(std::string_view(chunk).substr(0, 7))[3] & RuleSet::kMatchHit);
  EXPECT_THAT(sorted(), ::testing::ElementsAre(3, 200));
  scanner.HitsFor(std::string_view(chunk).substr(8, 4));
  EXPECT_THAT(sorted(), ::testing::ElementsAre(200));
  scanner.HitsFor(std::string_view(chunk).substr(13, 17));
  EXPECT_THAT(sorted(), ::testing::ElementsAre(0, 199, 200));
}

}  // namespace
}  // namespace hw::logwatch
