#include "alerter/state.h"

#include <gtest/gtest.h>

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;

Rule MakeRule(std::string name, std::string metric, std::string expr, std::string recover = "") {
  Rule r;
  r.name = std::move(name);
  r.metric = std::move(metric);
  r.expr = ParseExpr(expr).value();
  if (!recover.empty()) r.recover = ParseExpr(recover).value();
  r.receivers = {"ops"};
  return r;
}

pb::SampleBatch Batch(const std::string& endpoint, const std::string& metric, double value,
                      int64_t t_ms, std::map<std::string, std::string> tags = {}) {
  pb::SampleBatch b;
  b.set_endpoint(endpoint);
  pb::Sample* s = b.add_samples();
  s->set_metric(metric);
  s->set_value(value);
  s->set_time_ms(t_ms);
  for (const auto& [k, v] : tags) (*s->mutable_tags())[k] = v;
  return b;
}

class EngineTest : public ::testing::Test {
 protected:
  void Make(std::vector<Rule> rules) {
    rules_ = RuleSet(std::move(rules));
    engine_ = std::make_unique<AlertEngine>(&rules_, AlertEngine::Options{});
  }
  std::vector<AlertChange> Feed(const std::string& ep, const std::string& metric, double v,
                                int64_t t_ms) {
    std::vector<AlertChange> out;
    engine_->OnSamples(Batch(ep, metric, v, t_ms), &out);
    return out;
  }
  RuleSet rules_;
  std::unique_ptr<AlertEngine> engine_;
};

TEST_F(EngineTest, AllOfThreeFiresOnTheThirdBreachAndRecoversOnlyBelowRecover) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#3) > 90", "avg(#3) < 80")});
  EXPECT_TRUE(Feed("web-01", "cpu.busy", 95, 10000).empty());
  EXPECT_TRUE(Feed("web-01", "cpu.busy", 96, 20000).empty());
  std::vector<AlertChange> c = Feed("web-01", "cpu.busy", 97, 30000);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].alert.state(), pb::Alert::FIRING);
  EXPECT_TRUE(c[0].notify);
  EXPECT_EQ(c[0].alert.key(), "cpu_high|web-01|cpu.busy");
  EXPECT_EQ(c[0].alert.since_ms(), 30000);
  // Below 90 but the 3-point average is not below 80: still firing (hysteresis).
  EXPECT_TRUE(Feed("web-01", "cpu.busy", 85, 40000).empty());
  EXPECT_TRUE(Feed("web-01", "cpu.busy", 85, 50000).empty());
  c = Feed("web-01", "cpu.busy", 50, 60000);  // avg(85, 85, 50) = 73.3
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].alert.state(), pb::Alert::RESOLVED);
  EXPECT_TRUE(c[0].notify);
  EXPECT_EQ(engine_->FindAlert("cpu_high|web-01|cpu.busy"), nullptr);
}

TEST_F(EngineTest, ReplayedPointNeverEntersTheWindowTwice) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#3) > 90")});
  Feed("a", "cpu.busy", 95, 10000);
  Feed("a", "cpu.busy", 96, 20000);
  // The same point again (a re-delivered tail) must not count as the third breach.
  EXPECT_TRUE(Feed("a", "cpu.busy", 96, 20000).empty());
  EXPECT_TRUE(Feed("a", "cpu.busy", 99, 15000).empty());
  EXPECT_EQ(engine_->stats().replayed, 2u);
  EXPECT_EQ(Feed("a", "cpu.busy", 97, 30000).size(), 1u);
}

TEST_F(EngineTest, ForKeepsABreachPendingUntilItLasted) {
  Rule r = MakeRule("load", "load.1min", "all(#1) > 4");
  r.for_duration = std::chrono::seconds(30);
  Make({r});
  std::vector<AlertChange> c = Feed("a", "load.1min", 5, 10000);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].alert.state(), pb::Alert::PENDING);
  EXPECT_FALSE(c[0].notify);
  EXPECT_TRUE(Feed("a", "load.1min", 5, 30000).empty());
  c = Feed("a", "load.1min", 5, 40000);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].alert.state(), pb::Alert::FIRING);
  // A pending breach that clears is not announced.
  Feed("b", "load.1min", 5, 10000);
  c = Feed("b", "load.1min", 1, 20000);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].alert.state(), pb::Alert::RESOLVED);
  EXPECT_FALSE(c[0].notify);
}

TEST_F(EngineTest, SelectsSeriesByEndpointAndTags) {
  Rule r = MakeRule("disk", "disk.used_percent", "all(#1) > 90");
  r.endpoint = "db-*";
  r.tags = {{"mount", "/"}};
  Make({r});
  std::vector<AlertChange> out;
  engine_->OnSamples(Batch("web-1", "disk.used_percent", 99, 1000, {{"mount", "/"}}), &out);
  engine_->OnSamples(Batch("db-1", "disk.used_percent", 99, 1000, {{"mount", "/boot"}}), &out);
  EXPECT_TRUE(out.empty());
  engine_->OnSamples(Batch("db-1", "disk.used_percent", 99, 1000, {{"mount", "/"}}), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert.series(), "disk.used_percent;mount=/");
}

TEST_F(EngineTest, NodataWaitsAfterStartIsSuspendedWhileLaggingAndHealsOnAPoint) {
  Make({MakeRule("host_silent", "agent.alive", "nodata(30s)")});
  const int64_t t0 = 1'000'000;
  engine_->Start(t0);
  Feed("a", "agent.alive", 1, t0 - 100000);  // last heard long before the start
  std::vector<AlertChange> out;
  engine_->Tick(t0 + 10000, false, &out);
  EXPECT_TRUE(out.empty()) << "no nodata within one duration of the start";
  engine_->Tick(t0 + 40000, true, &out);
  EXPECT_TRUE(out.empty()) << "no nodata while lagging";
  engine_->Tick(t0 + 40000, false, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert.state(), pb::Alert::FIRING);
  EXPECT_TRUE(out[0].notify);
  out.clear();
  engine_->Tick(t0 + 41000, false, &out);
  EXPECT_TRUE(out.empty()) << "fires once";
  out = Feed("a", "agent.alive", 1, t0 + 42000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert.state(), pb::Alert::RESOLVED);
}

TEST_F(EngineTest, ManyHostsSilentIsAStorm) {
  Make({MakeRule("host_silent", "agent.alive", "nodata(30s)")});
  engine_->Start(0);
  for (int i = 0; i < 10; ++i) Feed("h" + std::to_string(i), "agent.alive", 1, 100000);
  std::vector<AlertChange> out;
  engine_->Tick(120000, false, &out);
  EXPECT_FALSE(engine_->NodataStorm());
  for (int i = 0; i < 4; ++i) Feed("h" + std::to_string(i), "agent.alive", 1, 140000);
  engine_->Tick(170000, false, &out);  // h4..h9 silent for 70 s, h0..h3 for 30 s
  EXPECT_EQ(out.size(), 6u);
  EXPECT_EQ(engine_->known_hosts(), 10u);
  EXPECT_TRUE(engine_->NodataStorm()) << "6 of 10 hosts > 30%";
}

TEST_F(EngineTest, LogEventCountIncludesSuppressed) {
  Rule r;
  r.name = "oom";
  r.event_rule = "kernel_oom";
  r.expr = ParseExpr("count(5m) >= 3").value();
  Make({r});
  pb::EventBatch b;
  b.set_endpoint("a");
  pb::LogEvent* e = b.add_events();
  e->set_rule("kernel_oom");
  e->set_time_ms(1000);
  e->set_line("Out of memory: Killed process 42");
  e->set_suppressed(1);
  std::vector<AlertChange> out;
  engine_->OnEvents(b, &out);
  EXPECT_TRUE(out.empty()) << "1 + 1 suppressed = 2 < 3";
  e->set_time_ms(2000);
  e->set_suppressed(0);
  engine_->OnEvents(b, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert.state(), pb::Alert::FIRING);
  EXPECT_EQ(out[0].alert.value(), 3);
  AlertView v = engine_->View(out[0].alert);
  ASSERT_EQ(v.log_lines.size(), 2u);
  EXPECT_EQ(v.log_lines[0], "Out of memory: Killed process 42");
  out.clear();
  engine_->Tick(2000 + 5 * 60 * 1000, false, &out);  // the window has passed
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert.state(), pb::Alert::RESOLVED);
}

TEST_F(EngineTest, SavedStateNeitherRefiresNorForgets) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#3) > 90", "avg(#3) < 80")});
  for (int i = 1; i <= 3; ++i) Feed("a", "cpu.busy", 95, i * 10000);
  hostwatch::alerter::v1::AlerterState saved;
  engine_->Save(&saved);
  std::string bytes = saved.SerializeAsString();

  AlertEngine restarted(&rules_, {});
  hostwatch::alerter::v1::AlerterState loaded;
  ASSERT_TRUE(loaded.ParseFromString(bytes));
  restarted.Load(loaded);
  ASSERT_NE(restarted.FindAlert("cpu_high|a|cpu.busy"), nullptr);
  std::vector<AlertChange> out;
  // The re-delivered tail changes nothing; a new breaching point does not fire again.
  restarted.OnSamples(Batch("a", "cpu.busy", 95, 30000), &out);
  restarted.OnSamples(Batch("a", "cpu.busy", 95, 40000), &out);
  EXPECT_TRUE(out.empty());
  for (int i = 5; i <= 7; ++i) restarted.OnSamples(Batch("a", "cpu.busy", 10, i * 10000), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert.state(), pb::Alert::RESOLVED);
  EXPECT_TRUE(out[0].notify);
}

}  // namespace
}  // namespace hw::alerter
