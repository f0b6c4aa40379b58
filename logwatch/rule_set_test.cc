#include "logwatch/rule_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <map>
#include <set>

#include "logwatch/record_processor.h"

namespace hw::logwatch {
namespace {

RuleConfig Rule(std::string name, std::string match, std::vector<std::string> captures = {}) {
  RuleConfig r;
  r.name = std::move(name);
  r.match = std::move(match);
  r.captures = std::move(captures);
  return r;
}

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

struct Collect : RecordSink {
  std::vector<std::pair<std::string, std::string>> got;  // rule, text
  const RuleSet* rs = nullptr;
  void OnRecord(const Record& r) override {
    got.emplace_back(rs->rule(r.rule).name, std::string(r.text));
  }
};

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

TEST(RecordProcessorTest, ExcludeVetoesAndMultilineJoins) {
  RuleConfig err = Rule("err", "ERROR");
  err.exclude = "healthcheck";
  RuleConfig trace = Rule("trace", "Traceback");
  trace.multiline_start = R"(^\d{4}-)";
  auto rs = RuleSet::Compile({err, trace});
  ASSERT_TRUE(rs.ok());
  RecordProcessor p(*rs, 1024);
  FileRecords f;
  p.Attach({"err", "trace"}, &f);
  Collect sink;
  sink.rs = rs->get();
  uint64_t off = 0;
  for (const char* line :
       {"2024-01-01 ERROR db down", "2024-01-01 ERROR healthcheck failed", "2024-01-01 boom",
        "Traceback (most recent call last):", "  File x", "2024-01-01 ok"}) {
    p.OnLine("/l", line, off, false, &f, &sink);
    off += 100;
  }
  EXPECT_THAT(sink.got,
              ::testing::ElementsAre(
                  std::pair<std::string, std::string>("err", "2024-01-01 ERROR db down"),
                  std::pair<std::string, std::string>(
                      "trace", "2024-01-01 boom\nTraceback (most recent call last):\n  File x")));
}

// Captures are extracted for the rules whose records carry them (events, values), and for every
// rule when asked (test-logrules); a count-only rule's records arrive without them, matched the
// same.
TEST(RecordProcessorTest, CapturesOnlyWhereTheyAreRead) {
  RuleConfig count = Rule("count", R"(took (?P<ms>\d+)ms)", {"ms"});
  count.emit_event = false;
  count.emit_count = true;
  RuleConfig value = count;
  value.name = "value";
  value.emit_value = true;
  RuleConfig event = Rule("event", R"(user=(?P<user>\w+))", {"user"});
  auto rs = RuleSet::Compile({count, value, event});
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_FALSE((*rs)->UsesCaptures(0));
  EXPECT_TRUE((*rs)->UsesCaptures(1));
  EXPECT_TRUE((*rs)->UsesCaptures(2));
  struct Groups : RecordSink {
    std::vector<std::pair<size_t, std::vector<std::string>>> got;
    void OnRecord(const Record& r) override {
      got.emplace_back(r.rule, std::vector<std::string>(r.groups->begin(), r.groups->end()));
    }
  };
  using G = std::vector<std::string>;
  for (const bool all : {false, true}) {
    SCOPED_TRACE(all);
    RecordProcessor p(*rs, 1024, /*capture_all=*/all);
    FileRecords f;
    p.Attach({"count", "value", "event"}, &f);
    Groups sink;
    const std::string chunk = "a took 12ms user=bob\nno match here\nb took 7ms\n";
    p.OnChunk(chunk);  // chunk hits, as the tailer delivers them
    uint64_t off = 0;
    for (const char* line : {"a took 12ms user=bob", "no match here", "b took 7ms"}) {
      p.OnLine("/l", line, off, false, &f, &sink);
      off += 100;
    }
    p.OnChunk({});
    p.OnLine("/l", "c took 3ms", off, false, &f, &sink);  // alone: line hits
    using E = std::pair<size_t, G>;
    EXPECT_THAT(sink.got,
                ::testing::ElementsAre(E{0, all ? G{"12"} : G{}}, E{1, G{"12"}}, E{2, G{"bob"}},
                                       E{0, all ? G{"7"} : G{}}, E{1, G{"7"}},
                                       E{0, all ? G{"3"} : G{}}, E{1, G{"3"}}));
  }
}

// Rules with the same pattern and captures (twins) take RE2's answer on a line from the first of
// them to ask: each still gets its own record, exclude and captures, on every line, chunked or not.
TEST(RecordProcessorTest, TwinRulesShareOneRe2AnswerPerLine) {
  const std::string pat = R"(svc\[\d+\]: .* took (?P<ms>\d+)ms)";
  RuleConfig a = Rule("a", pat, {"ms"});
  a.emit_value = true;
  a.exclude = "route=/skip ";
  RuleConfig b = a;
  b.name = "b";
  b.exclude.clear();
  RuleConfig counted = Rule("counted", pat, {"ms"});  // a twin whose captures nobody reads
  counted.emit_event = false;
  counted.emit_count = true;
  RuleConfig other = Rule("other", R"(took (?P<ms>\d+)ms)", {"ms"});
  other.emit_value = true;
  RuleConfig ml = Rule("ml", pat, {"ms"});  // a twin joining lines: matched on its records
  ml.emit_value = true;
  ml.multiline_start = "svc\\[";
  auto rs = RuleSet::Compile({a, b, counted, other, ml});
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_EQ((*rs)->MatchTwin(0), 0u);
  EXPECT_EQ((*rs)->MatchTwin(1), 0u);
  EXPECT_EQ((*rs)->MatchTwin(2), 0u);
  EXPECT_EQ((*rs)->MatchTwin(3), 3u);
  EXPECT_EQ((*rs)->MatchTwin(4), 0u);
  EXPECT_TRUE((*rs)->HasTwins(0));
  EXPECT_FALSE((*rs)->HasTwins(3));
  struct Groups : RecordSink {
    std::vector<std::pair<size_t, std::vector<std::string>>> got;
    void OnRecord(const Record& r) override {
      got.emplace_back(r.rule, std::vector<std::string>(r.groups->begin(), r.groups->end()));
    }
  };
  using G = std::vector<std::string>;
  using E = std::pair<size_t, G>;
  const std::vector<std::string> lines = {
      "svc[1]: level=info route=/a took 12ms",
      "svc[2]: level=info route=/skip took 7ms",  // a excluded, b and counted not
      "svc[3]: took nothing",                     // a literal hit RE2 turns down
      "other took 5ms",
      "svc[4]: x took 9ms y took 3ms",  // .* is greedy: the last one
  };
  std::string chunk;
  for (const std::string& l : lines) chunk += l + "\n";
  for (const bool chunked : {false, true}) {
    SCOPED_TRACE(chunked);
    RecordProcessor p(*rs, 1024);
    FileRecords f;
    p.Attach({"a", "b", "counted", "other", "ml"}, &f);
    Groups sink;
    if (chunked) p.OnChunk(chunk);
    uint64_t off = 0;
    for (const std::string& l : lines) {
      p.OnLine("/l", l, off, false, &f, &sink);
      off += 100;
    }
    p.OnChunk({});
    p.FlushIdle("/l", 0, std::chrono::milliseconds(0), &f, &sink);
    EXPECT_THAT(sink.got, ::testing::ElementsAre(
                              E{0, G{"12"}}, E{1, G{"12"}}, E{2, G{}}, E{3, G{"12"}},  // line 1
                              // line 2, then ml's record of line 1 (line 2 starts another)
                              E{1, G{"7"}}, E{2, G{}}, E{3, G{"7"}}, E{4, G{"12"}},
                              E{4, G{"7"}},  // line 3: ml's record of line 2
                              E{3, G{"5"}},  // line 4 (ml's record of lines 3 and 4 will not match)
                              E{0, G{"3"}}, E{1, G{"3"}}, E{2, G{}}, E{3, G{"9"}},  // line 5
                              E{4, G{"3"}}));  // ml's record of line 5, at the flush
  }
}

// Rules meant to find where chunk answers could differ from line answers: anchors (^ $ \A \z),
// a required literal under (?i), classes that cross newlines, captures, a plain literal (exact in
// both modes), and a multiline start.
std::vector<RuleConfig> ChunkRules() {
  RuleConfig ml = Rule("ml", "Trace");
  ml.multiline_start = R"(^\d{4}-)";
  return {Rule("start", "^foo"),
          Rule("end", "bar$"),
          Rule("text_start", R"(\Afoo)"),
          Rule("text_end", R"(bar\z)"),
          Rule("caseless", R"((?i)failed PASSWORD for (?P<user>\S+))", {"user"}),
          Rule("paren", R"(\(([^)]+)\))"),
          Rule("literal", "level=error"),
          Rule("cap", R"(took (?P<ms>\d+)ms)", {"ms"}),
          Rule("no_literal", R"(^[a-z]+\s?\(?$)"),  // no string to require: the whole pattern
          Rule("text_start_class", R"(\A[fb]oo)"),  // the same, and anchored to the text
          ml};
}

// Lines from pieces that the rules above care about, joined by newlines.
std::vector<std::string> RandomLines(uint32_t seed, size_t n) {
  static const char* const kPieces[] = {"foo",     "bar",         "Failed password for ",
                                        "root",    "(",           ")",
                                        " ",       "level=error", "took 12ms",
                                        "took ms", "2024-",       "Trace",
                                        "x",       "\xff",        "LEVEL=ERROR"};
  uint32_t s = seed;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return s >> 8;
  };
  std::vector<std::string> lines(n);
  for (std::string& line : lines) {
    const uint32_t k = next() % 7;
    for (uint32_t i = 0; i < k; ++i) line += kPieces[next() % std::size(kPieces)];
  }
  return lines;
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

TEST(RecordProcessorTest, ChunkedAndLineByLineGiveTheSameRecords) {
  std::vector<RuleConfig> rules = ChunkRules();
  rules.push_back(Rule("every_word", R"(\w+)"));  // hits at almost every byte: chunks give up
  for (const bool with_greedy : {false, true}) {
    std::vector<RuleConfig> use(rules.begin(), rules.end() - (with_greedy ? 0 : 1));
    auto rs = RuleSet::Compile(use);
    ASSERT_TRUE(rs.ok());
    std::vector<std::string> names;
    for (const RuleConfig& r : use) names.push_back(r.name);
    RecordProcessor chunked(*rs, 1024), alone(*rs, 1024);
    chunked.set_scan_mode(RuleSet::Scanner::ScanMode::kChunk);
    FileRecords fc, fa;
    chunked.Attach(names, &fc);
    alone.Attach(names, &fa);
    Collect got_chunked, got_alone;
    got_chunked.rs = got_alone.rs = rs->get();
    uint64_t off = 0;
    for (uint32_t seed = 1; seed <= 50; ++seed) {
      const std::vector<std::string> lines = RandomLines(seed * 7919, 60);
      std::string chunk;
      for (const std::string& l : lines) chunk += l + "\n";
      chunked.OnChunk(chunk);
      size_t at = 0;
      for (const std::string& l : lines) {
        chunked.OnLine("/l", std::string_view(chunk.data() + at, l.size()), off, false, &fc,
                       &got_chunked);
        alone.OnLine("/l", l, off, false, &fa, &got_alone);
        at += l.size() + 1;
        off += l.size() + 1;
      }
      chunked.OnChunk({});
    }
    chunked.FlushIdle("/l", {}, std::chrono::milliseconds(0), &fc, &got_chunked);
    alone.FlushIdle("/l", {}, std::chrono::milliseconds(0), &fa, &got_alone);
    EXPECT_GT(got_alone.got.size(), 100u);
    EXPECT_EQ(got_chunked.got, got_alone.got) << "with_greedy=" << with_greedy;
  }
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

// Records of one line come in the file's rule order, whichever rules the line hit, with the
// multiline rules among them.
TEST(RecordProcessorTest, RecordsKeepTheFilesRuleOrder) {
  RuleConfig trace = Rule("trace", "Traceback");
  trace.multiline_start = R"(^\d{4}-)";
  auto rs = RuleSet::Compile({Rule("a", "alpha"), Rule("b", "beta"), trace, Rule("c", "gamma")});
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  RecordProcessor p(*rs, 1024);
  FileRecords f;
  p.Attach({"c", "trace", "b", "a"}, &f);
  Collect sink;
  sink.rs = rs->get();
  p.OnLine("/l", "2024-01-01 Traceback", 0, false, &f, &sink);
  p.OnLine("/l", "2024-01-02 beta gamma alpha", 100, false, &f, &sink);
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(sink.got, ::testing::ElementsAre(P("c", "2024-01-02 beta gamma alpha"),
                                               P("trace", "2024-01-01 Traceback"),
                                               P("b", "2024-01-02 beta gamma alpha"),
                                               P("a", "2024-01-02 beta gamma alpha")));
}

// Rules of every kind the benchmark generates (bench/logwatch/gen_rules.py), several of each with
// literals shared between them, and lines built from the same pieces with noise (\v, tabs, case):
// per-rule counts must be what RE2 alone says, whichever way the chunks are scanned.
std::vector<RuleConfig> GeneratedRules() {
  const std::vector<std::string> res = {"users-list", "users-item", "orders-list", "cart-sync"};
  const std::vector<std::string> svc = {"api", "apid", "worker", "cron-west"};
  const std::vector<std::string> user = {"root0", "root1", "admin", "git"};
  std::vector<RuleConfig> out;
  for (size_t v = 0; v < 4; ++v) {
    const std::string r = res[v], s = svc[v], u = user[v], n = std::to_string(v);
    const std::string h = "node0" + n;
    auto add = [&](std::string kind, std::string match, std::string exclude = "",
                   std::vector<std::string> captures = {}) {
      RuleConfig c = Rule(kind + n, std::move(match), std::move(captures));
      c.exclude = std::move(exclude);
      c.emit_event = false;
      c.emit_count = true;
      out.push_back(std::move(c));
    };
    add("literal", "GET /api/v1/" + r + "/");
    add("class", "/api/v1/" + r + R"(/\d+ HTTP/1\.[01]" 5\d\d )");
    add("alt", s + R"(\[\d+\]: level=(?:error|warn) )");
    add("caseless", "(?i)" + s + R"(\[\d+\]: LEVEL=ERROR )");
    add("anchor_start", R"(^Nov \d+ \d\d:\d\d:\d\d )" + h + R"( sshd\[\d+\]: Failed password)");
    add("anchor_end", "route=/" + r + R"( took \d{3,}ms$)");
    add("dotstar", s + R"(\[.*route=/)" + r + " ");
    add("capture",
        R"(Failed password for (?:invalid user )?(?P<user>)" + u + R"() from (?P<ip>\S+))", "",
        {"user", "ip"});
    add("value", s + R"(\[\d+\]: .* took (?P<ms>\d+)ms)", "", {"ms"});
    out.back().emit_value = true;
    add("no_literal", R"(^\d+\.\d+\.)" + n + R"(\.\d+ - - \[[^]]+\] "(?:POST|PUT) )");
    add("space", R"(kernel: \[\s*\d+\.\d+\] eth)" + n + R"(: link (?:up|down))");
    add("exclude", s + R"(\[\d+\]: level=error )", "route=/" + r + " ");
    add("caseless_end", R"re((?i)"curl/[\d.]+"$)re");
    add("text_anchor", R"(\A10\.0\.)" + n + R"(\.)");
    add("shared", R"( port \d+ ssh2)");
    add("word_tail", R"(sshd\[\d+\]: \w+)");
  }
  return out;
}

std::vector<std::string> GeneratedLines(uint32_t seed, size_t n) {
  uint32_t s = seed;
  auto next = [&s](uint32_t m) {
    s = s * 1664525u + 1013904223u;
    return (s >> 8) % m;
  };
  const std::vector<std::string> res = {"users-list", "users-item", "orders-list", "cart-sync",
                                        "x"};
  const std::vector<std::string> svc = {"api", "apid", "worker", "cron-west", "API"};
  const std::vector<std::string> user = {"root0", "root1", "admin", "git", "nobody"};
  std::vector<std::string> lines;
  for (size_t i = 0; i < n; ++i) {
    std::string l;
    switch (next(5)) {
      case 0:
        l = "10.0." + std::to_string(next(5)) + "." + std::to_string(next(9)) + " - - [21/Nov] \"" +
            (next(3) ? "GET" : "POST") + " /api/v1/" + res[next(5)] + "/" +
            std::to_string(next(99)) + " HTTP/1." + std::to_string(next(3)) + "\" " +
            (next(4) ? "200" : "503") + " 12 \"" + (next(2) ? "curl" : "Curl") + "/8." +
            std::to_string(next(9)) + "\"";
        break;
      case 1:
        l = "2026-11-21T10:00:00Z " + svc[next(5)] + "[" + std::to_string(next(9999)) +
            "]: " + (next(5) ? "level=" : "LEVEL=") +
            (next(3)   ? "error"
             : next(2) ? "warn"
                       : "info") +
            " route=/" + res[next(5)] + " took " + std::to_string(next(3000)) + "ms";
        break;
      case 2:
        l = "Nov 21 10:00:0" + std::to_string(next(10)) + " node0" + std::to_string(next(5)) +
            " sshd[" + std::to_string(next(99)) +
            "]: " + (next(2) ? "Failed password" : "Accepted") + " for " +
            (next(2) ? "invalid user " : "") + user[next(5)] + " from 1.2.3." +
            std::to_string(next(9)) + " port " + std::to_string(next(65535)) + " ssh2";
        break;
      case 3:
        l = "Nov 21 host kernel: [" + std::string(next(3), ' ') + std::to_string(next(999)) +
            ".5] eth" + std::to_string(next(5)) + ": link " + (next(2) ? "up" : "down");
        break;
      default:
        l = "noise";
        break;
    }
    // Noise: a vertical tab (a space to Vectorscan's \s, not to RE2's), a tab, a byte beyond ASCII.
    const uint32_t k = next(12);
    if (k == 0 && l.size() > 10) l[next(static_cast<uint32_t>(l.size()))] = '\v';
    if (k == 1 && l.size() > 10) l[next(static_cast<uint32_t>(l.size()))] = '\t';
    if (k == 2) l += "\xe9";
    lines.push_back(std::move(l));
  }
  return lines;
}

TEST(RecordProcessorTest, GeneratedRulesCountWhatRe2AloneCounts) {
  const std::vector<RuleConfig> rules = GeneratedRules();
  auto rs = RuleSet::Compile(rules);
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  std::vector<std::string> names;
  for (const RuleConfig& r : rules) names.push_back(r.name);
  std::vector<std::string> lines;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    for (std::string& l : GeneratedLines(seed * 104729, 100)) lines.push_back(std::move(l));
  }
  // RE2 alone, as mtail would.
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  std::map<std::string, uint64_t> want;
  for (const RuleConfig& r : rules) {
    RE2 match(r.match, opts), exclude(r.exclude.empty() ? "$^" : r.exclude, opts);
    ASSERT_TRUE(match.ok()) << r.match;
    for (const std::string& l : lines) {
      if (RE2::PartialMatch(l, match) && (r.exclude.empty() || !RE2::PartialMatch(l, exclude))) {
        ++want[r.name];
      }
    }
  }
  EXPECT_GT(want.size(), rules.size() * 3 / 4);  // the lines do hit most rules
  // Most kinds of rule are cut into a head and a tail in the line database (TailMatcher).
  EXPECT_GT((*rs)->split_patterns(), rules.size() / 3);
  struct Count : RecordSink {
    const RuleSet* rs = nullptr;
    std::map<std::string, uint64_t> got;
    void OnRecord(const Record& r) override { ++got[rs->rule(r.rule).name]; }
  };
  using Mode = RuleSet::Scanner::ScanMode;
  for (const Mode mode : {Mode::kChunk, Mode::kLine, Mode::kAuto}) {
    SCOPED_TRACE(static_cast<int>(mode));
    RecordProcessor p(*rs, 1 << 16);
    p.set_scan_mode(mode);
    FileRecords f;
    p.Attach(names, &f);
    Count sink;
    sink.rs = rs->get();
    uint64_t off = 0;
    // Chunks of 1 to 37 lines; every fourth line is also sent alone, outside any chunk.
    for (size_t at = 0, size = 1; at < lines.size(); at += size, size = size % 37 + 1) {
      const size_t end = std::min(lines.size(), at + size);
      std::string chunk;
      for (size_t i = at; i < end; ++i) chunk += lines[i] + "\n";
      p.OnChunk(chunk);
      size_t pos = 0;
      for (size_t i = at; i < end; ++i) {
        p.OnLine("/l", std::string_view(chunk.data() + pos, lines[i].size()), off, false, &f,
                 &sink);
        pos += lines[i].size() + 1;
        off += lines[i].size() + 1;
      }
      p.OnChunk({});
    }
    EXPECT_EQ(sink.got, want);
  }
}

}  // namespace
}  // namespace hw::logwatch
