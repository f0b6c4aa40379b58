#include "logwatch/rule_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST(StripGroupNamesTest, RewritesNamedGroupsOnly) {
  EXPECT_EQ(StripGroupNames(R"(" (?P<status>5\d\d) )"), R"(" (5\d\d) )");
  EXPECT_EQ(StripGroupNames(R"((?<a>x)(?:y)(?i)z)"), R"((x)(?:y)(?i)z)");
  EXPECT_EQ(StripGroupNames(R"(\(?P<a>[(?P<b>])"), R"(\(?P<a>[(?P<b>])");
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

}  // namespace
}  // namespace hw::logwatch
