#include "alerter/rules.h"

#include <gtest/gtest.h>

#include <limits>

#include "alerter/notification_text.h"

namespace hw::alerter {
namespace {

std::vector<Point> Points(std::initializer_list<double> values) {
  std::vector<Point> out;
  int64_t t = 1000;
  for (double v : values) out.push_back({t += 10000, v});
  return out;
}

Judgement Judge(std::string_view expr, std::initializer_list<double> values) {
  Result<Expr> e = ParseExpr(expr);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return JudgeSeries(*e, Points(values));
}

TEST(ExprTest, ParsesEveryForm) {
  Result<Expr> e = ParseExpr(" all(#3) > 90 ");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->fn, Expr::Fn::kAll);
  EXPECT_EQ(e->points, 3u);
  EXPECT_EQ(e->op, Expr::Op::kGt);
  EXPECT_EQ(e->threshold, 90);
  EXPECT_EQ(e->text, "all(#3) > 90");
  e = ParseExpr("nodata(120s)");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->fn, Expr::Fn::kNodata);
  EXPECT_EQ(e->window, std::chrono::seconds(120));
  e = ParseExpr("count(5m) >= 3");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->fn, Expr::Fn::kCount);
  EXPECT_EQ(e->window, std::chrono::minutes(5));
  EXPECT_EQ(e->op, Expr::Op::kGe);
  EXPECT_TRUE(ParseExpr("pdiff(#2) != -1.5").ok());
  EXPECT_TRUE(ParseExpr("min(#4) <= 0").ok());
  EXPECT_TRUE(ParseExpr("sum(#2) == 7").ok());
}

TEST(ExprTest, RejectsWhatItCannotJudge) {
  for (const char* bad : {"", "all", "all(3) > 9", "all(#0) > 9", "median(#3) > 1", "all(#3)",
                          "all(#3) > x", "all(#3) >> 9", "nodata(abc)", "nodata(10s) > 1",
                          "count(5m)", "diff(#1) > 0", "all(#3) > nan"}) {
    EXPECT_FALSE(ParseExpr(bad).ok()) << bad;
  }
}

TEST(JudgeTest, AllNeedsEveryPointOfTheWindow) {
  EXPECT_FALSE(Judge("all(#3) > 90", {95, 96}).decided);
  Judgement j = Judge("all(#3) > 90", {95, 96, 97});
  EXPECT_TRUE(j.decided);
  EXPECT_TRUE(j.breach);
  EXPECT_EQ(j.value, 97);
  EXPECT_FALSE(Judge("all(#3) > 90", {95, 89, 97}).breach);
  // Only the last N points count.
  EXPECT_TRUE(Judge("all(#3) > 90", {10, 95, 96, 97}).breach);
}

TEST(JudgeTest, Aggregates) {
  EXPECT_TRUE(Judge("any(#3) > 90", {10, 95, 20}).breach);
  EXPECT_FALSE(Judge("any(#3) > 90", {10, 15, 20}).breach);
  Judgement avg = Judge("avg(#4) >= 50", {40, 50, 60, 50});
  EXPECT_EQ(avg.value, 50);
  EXPECT_TRUE(avg.breach);
  EXPECT_EQ(Judge("max(#3) > 0", {1, 7, 3}).value, 7);
  EXPECT_EQ(Judge("min(#3) > 0", {4, 7, 3}).value, 3);
  EXPECT_EQ(Judge("sum(#3) > 0", {4, 7, 3}).value, 14);
  EXPECT_EQ(Judge("diff(#3) > 0", {4, 7, 3}).value, -1);
  Judgement p = Judge("pdiff(#2) > 50", {100, 160});
  EXPECT_EQ(p.value, 60);
  EXPECT_TRUE(p.breach);
  // A change from zero has no percentage.
  EXPECT_FALSE(Judge("pdiff(#2) > 50", {0, 160}).decided);
}

TEST(RuleTest, SelectsByEndpointGlobAndTagGlobs) {
  Rule r;
  r.metric = "disk.used_percent";
  r.endpoint = "web-*";
  r.tags = {{"mount", "/var*"}};
  google::protobuf::Map<std::string, std::string> tags;
  tags["mount"] = "/var/log";
  EXPECT_TRUE(r.MatchesSeries("web-01", tags));
  EXPECT_FALSE(r.MatchesSeries("db-01", tags));
  tags["mount"] = "/";
  EXPECT_FALSE(r.MatchesSeries("web-01", tags));
  tags.clear();
  EXPECT_FALSE(r.MatchesSeries("web-01", tags)) << "a matcher on a missing tag does not match";
}

TEST(RuleSetTest, IndexesByMetricAndEventRule) {
  std::vector<Rule> rules(3);
  rules[0].name = "a";
  rules[0].metric = "cpu.busy";
  rules[1].name = "b";
  rules[1].metric = "mem.used_percent";
  rules[2].name = "c";
  rules[2].event_rule = "kernel_oom";
  RuleSet set(std::move(rules));
  ASSERT_EQ(set.ForMetric("cpu.busy").size(), 1u);
  EXPECT_EQ(set.ForMetric("cpu.busy")[0], 0u);
  EXPECT_TRUE(set.ForMetric("load.1min").empty());
  ASSERT_EQ(set.ForEventRule("kernel_oom").size(), 1u);
  EXPECT_EQ(set.Find("b")->metric, "mem.used_percent");
}

TEST(NamesTest, SeriesAndKey) {
  std::map<std::string, std::string> tags = {{"mount", "/"}, {"fstype", "ext4"}};
  EXPECT_EQ(SeriesName("disk.used_percent", tags), "disk.used_percent;fstype=ext4;mount=/");
  EXPECT_EQ(AlertKey("disk_full", "web-01", "disk.used_percent;mount=/"),
            "disk_full|web-01|disk.used_percent;mount=/");
  EXPECT_EQ(FormatValue(42.5), "42.5");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

}  // namespace
}  // namespace hw::alerter
