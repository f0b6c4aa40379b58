#include "logwatch/record_processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <map>
#include <string>
#include <vector>

#include "logwatch/rule_set_fixture.h"

namespace hw::logwatch {
namespace {

struct Collect : RecordSink {
  std::vector<std::pair<std::string, std::string>> got;  // rule, text
  const RuleSet* rs = nullptr;
  void OnRecord(const Record& r) override {
    got.emplace_back(rs->rule(r.rule).name, std::string(r.text));
  }
};

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
