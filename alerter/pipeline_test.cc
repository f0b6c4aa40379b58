#include "alerter/pipeline.h"

#include <gtest/gtest.h>

#include "alerter/notification_text.h"
#include "alerter/pipeline_test_delivery.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
constexpr int64_t kS = 1000;
constexpr int64_t kMin = 60 * kS;

Rule MakeRule(std::string name, std::string metric, std::string expr, std::string recover = "") {
  Rule r;
  r.name = std::move(name);
  r.metric = std::move(metric);
  r.expr = ParseExpr(expr).value();
  if (!recover.empty()) r.recover = ParseExpr(recover).value();
  r.receivers = {"ops"};
  return r;
}

class PipelineTest : public ::testing::Test {
 protected:
  void Make(std::vector<Rule> rules, PipelineConfig config = {}) {
    rules_ = RuleSet(std::move(rules));
    engine_ = std::make_unique<AlertEngine>(&rules_, AlertEngine::Options{});
    engine_->Start(0);
    pipeline_ = std::make_unique<Pipeline>(config, &rules_, engine_.get(), &delivery_);
  }
  // One sample at wall time == sample time.
  void Feed(const std::string& ep, const std::string& metric, double v, int64_t t_ms) {
    pb::SampleBatch b;
    b.set_endpoint(ep);
    pb::Sample* s = b.add_samples();
    s->set_metric(metric);
    s->set_value(v);
    s->set_time_ms(t_ms);
    std::vector<AlertChange> changes;
    engine_->OnSamples(b, &changes);
    for (const AlertChange& c : changes) pipeline_->OnChange(c, t_ms);
  }
  void TickUntil(int64_t from_ms, int64_t to_ms) {
    for (int64_t t = from_ms; t <= to_ms; t += kS) Tick(t);
  }
  void Tick(int64_t now_ms) {
    std::vector<AlertChange> changes;
    engine_->Tick(now_ms, false, &changes);
    for (const AlertChange& c : changes) pipeline_->OnChange(c, now_ms);
    pipeline_->Tick(now_ms, silences_);
  }

  RuleSet rules_;
  std::unique_ptr<AlertEngine> engine_;
  RecordingDelivery delivery_;
  std::unique_ptr<Pipeline> pipeline_;
  std::vector<Silence> silences_;
};

TEST_F(PipelineTest, FiveHundredHostsInOneSecondAreOneMessage) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")});
  for (int i = 0; i < 500; ++i) Feed("h" + std::to_string(i), "cpu.busy", 99, 10 * kS);
  TickUntil(10 * kS, 70 * kS);
  ASSERT_EQ(delivery_.count(), 1u);
  const Notification n = delivery_.sent()[0];
  EXPECT_EQ(n.kind, Notification::Kind::kFiring);
  EXPECT_EQ(n.alerts.size(), 500u);
  EXPECT_EQ(Subject(n), "[FIRING:500] cpu_high on 500 hosts");
  EXPECT_EQ(n.receiver, "ops");
}

TEST_F(PipelineTest, GroupWaitThenOneFiringAndOneResolved) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#3) > 90", "avg(#3) < 80")});
  for (int i = 1; i <= 3; ++i) Feed("web-01", "cpu.busy", 95, i * 10 * kS);
  TickUntil(30 * kS, 59 * kS);
  EXPECT_EQ(delivery_.count(), 0u) << "group_wait is 30s";
  Tick(60 * kS);
  ASSERT_EQ(delivery_.count(), 1u);
  EXPECT_EQ(Subject(delivery_.sent()[0]), "[FIRING] cpu_high on web-01: cpu.busy = 95");
  EXPECT_EQ(delivery_.sent()[0].alerts[0].recent.size(), 3u);
  for (int i = 7; i <= 9; ++i) Feed("web-01", "cpu.busy", 10, i * 10 * kS);
  TickUntil(90 * kS, 60 * kS + 5 * kMin);
  ASSERT_EQ(delivery_.count(), 2u);
  const Notification r = delivery_.sent()[1];
  EXPECT_EQ(r.kind, Notification::Kind::kResolved);
  EXPECT_EQ(Subject(r), "[RESOLVED] cpu_high on web-01: cpu.busy = 10");
  EXPECT_NE(r.id, delivery_.sent()[0].id);
}

TEST_F(PipelineTest, HealedBeforeAnyoneWasToldSaysNothing) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")});
  Feed("a", "cpu.busy", 95, 10 * kS);
  Feed("a", "cpu.busy", 5, 20 * kS);
  TickUntil(10 * kS, 10 * kMin);
  EXPECT_EQ(delivery_.count(), 0u);
}

TEST_F(PipelineTest, FlappingEveryIntervalGivesAtMostTwo) {
  PipelineConfig c;
  c.group_wait = std::chrono::seconds(5);  // shorter than the interval: the first breach is told
  Make({MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")}, c);
  for (int i = 0; i < 20; ++i) {
    const int64_t t = (i + 1) * 10 * kS;
    Feed("a", "cpu.busy", i % 2 == 0 ? 95 : 50, t);
    TickUntil(t, t + 9 * kS);
  }
  EXPECT_LE(delivery_.count(), 2u);
  EXPECT_GE(delivery_.count(), 1u);
}

TEST_F(PipelineTest, RepeatsWhileFiring) {
  PipelineConfig c;
  c.repeat_interval = std::chrono::hours(1);
  Make({MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")}, c);
  Feed("a", "cpu.busy", 95, 10 * kS);
  TickUntil(10 * kS, 40 * kS);
  ASSERT_EQ(delivery_.count(), 1u);
  Tick(40 * kS + 59 * kMin);
  EXPECT_EQ(delivery_.count(), 1u);
  Tick(40 * kS + 60 * kMin);
  EXPECT_EQ(delivery_.count(), 2u);
}

TEST_F(PipelineTest, SilenceMutesAndExpiringBringsItBack) {
  PipelineConfig c;
  c.repeat_interval = std::chrono::minutes(10);
  Make({MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")}, c);
  Feed("web-01", "cpu.busy", 95, 10 * kS);
  TickUntil(10 * kS, 40 * kS);
  ASSERT_EQ(delivery_.count(), 1u);
  Silence s;
  s.id = "x";
  s.match = {{"rule", "cpu_high"}, {"endpoint", "web-*"}};
  s.starts_ms = 41 * kS;
  s.ends_ms = 41 * kS + 30 * kMin;
  silences_ = {s};
  TickUntil(41 * kS, 40 * kS + 20 * kMin);
  EXPECT_EQ(delivery_.count(), 1u) << "the repeat is muted";
  silences_[0].ends_ms = 40 * kS + 20 * kMin + kS;  // expired
  Tick(40 * kS + 20 * kMin + 2 * kS);
  EXPECT_EQ(delivery_.count(), 2u) << "expired: notifications come back";
  EXPECT_GT(pipeline_->stats().muted_silence, 0u);
}

TEST_F(PipelineTest, HostSilentInhibitsTheOtherAlertsOfThatHost) {
  PipelineConfig c;
  c.inhibit.push_back({"host_silent", {}, {"endpoint"}});
  Make({MakeRule("host_silent", "agent.alive", "nodata(30s)"),
        MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")},
       c);
  Feed("a", "agent.alive", 1, 10 * kS);
  Feed("b", "agent.alive", 1, 10 * kS);
  Feed("c", "agent.alive", 1, 10 * kS);
  Feed("a", "cpu.busy", 95, 11 * kS);
  Feed("b", "cpu.busy", 95, 11 * kS);
  // b keeps reporting; a goes silent.
  for (int64_t t = 11 * kS; t <= 50 * kS; t += kS) {
    if (t % (5 * kS) == 0) {
      Feed("b", "agent.alive", 1, t);
      Feed("c", "agent.alive", 1, t);
    }
    Tick(t);
  }
  std::vector<Notification> sent = delivery_.sent();
  // host_silent for a (once it was silent 30 s, then group_wait), cpu_high for b only.
  TickUntil(51 * kS, 2 * kMin);
  sent = delivery_.sent();
  bool cpu_for_a = false, cpu_for_b = false, silent_a = false;
  for (const Notification& n : sent) {
    for (const AlertView& v : n.alerts) {
      if (n.rule == "cpu_high" && v.alert.endpoint() == "a") cpu_for_a = true;
      if (n.rule == "cpu_high" && v.alert.endpoint() == "b") cpu_for_b = true;
      if (n.rule == "host_silent" && v.alert.endpoint() == "a") silent_a = true;
    }
  }
  EXPECT_TRUE(silent_a);
  EXPECT_TRUE(cpu_for_b);
  EXPECT_FALSE(cpu_for_a) << "inhibited by host_silent on a";
}

TEST_F(PipelineTest, MassNodataIsOneIncident) {
  Make({MakeRule("host_silent", "agent.alive", "nodata(30s)")});
  for (int i = 0; i < 10; ++i) Feed("h" + std::to_string(i), "agent.alive", 1, 10 * kS);
  for (int64_t t = 10 * kS; t <= 3 * kMin; t += kS) {
    if (t % (10 * kS) == 0) {
      for (int i = 0; i < 4; ++i) Feed("h" + std::to_string(i), "agent.alive", 1, t);
    }
    Tick(t);
  }
  ASSERT_EQ(delivery_.count(), 1u);
  EXPECT_EQ(delivery_.sent()[0].kind, Notification::Kind::kIncident);
  EXPECT_EQ(delivery_.sent()[0].alerts.size(), 6u);
}

TEST_F(PipelineTest, OverTheHourlyBudgetGoesIntoOneDigest) {
  PipelineConfig c;
  c.max_notifications_per_hour = 3;
  c.group_wait = std::chrono::seconds(0);
  c.group_interval = std::chrono::seconds(1);
  std::vector<Rule> rules;
  for (int i = 0; i < 6; ++i) {
    rules.push_back(MakeRule("r" + std::to_string(i), "m" + std::to_string(i), "all(#1) > 1"));
  }
  Make(rules, c);
  for (int i = 0; i < 6; ++i) Feed("a", "m" + std::to_string(i), 5, 10 * kS);
  Tick(10 * kS);
  EXPECT_EQ(delivery_.count(), 3u);
  EXPECT_EQ(pipeline_->stats().held, 3u);
  TickUntil(11 * kS, 10 * kS + 60 * kMin);
  ASSERT_EQ(delivery_.count(), 4u);
  const Notification d = delivery_.sent()[3];
  EXPECT_EQ(d.kind, Notification::Kind::kDigest);
  EXPECT_EQ(d.digest_subjects.size(), 3u);
  // The digest names each held-back message exactly as its own mail would have been subjected.
  for (const std::string& held : d.digest_subjects) {
    EXPECT_TRUE(held.starts_with("[FIRING] r") && held.find(" on a: m") != std::string::npos &&
                held.ends_with(" = 5"))
        << held;
  }
  EXPECT_EQ(Subject(d), "[DIGEST] 3 notifications held back for " + d.receiver);
}

TEST_F(PipelineTest, RefusedByDeliveryIsRetried) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")});
  delivery_.set_fail(true);
  Feed("a", "cpu.busy", 95, 10 * kS);
  TickUntil(10 * kS, 45 * kS);
  EXPECT_EQ(delivery_.count(), 0u);
  EXPECT_GT(pipeline_->stats().enqueue_errors, 0u);
  delivery_.set_fail(false);
  TickUntil(46 * kS, 50 * kS);
  EXPECT_EQ(delivery_.count(), 1u);
}

TEST_F(PipelineTest, RestoredStateDoesNotRenotify) {
  Make({MakeRule("cpu_high", "cpu.busy", "all(#1) > 90")});
  pipeline_->set_epoch("e1");
  Feed("a", "cpu.busy", 95, 10 * kS);
  TickUntil(10 * kS, 40 * kS);
  ASSERT_EQ(delivery_.count(), 1u);
  EXPECT_EQ(delivery_.sent()[0].id, "ops/cpu_high/e1-1");
  hostwatch::alerter::v1::AlerterState saved;
  engine_->Save(&saved);
  pipeline_->Save(&saved);

  AlertEngine engine2(&rules_, {});
  engine2.Load(saved);
  RecordingDelivery d2;
  Pipeline p2({}, &rules_, &engine2, &d2);
  p2.Load(saved);
  for (int64_t t = 41 * kS; t < 10 * kMin; t += kS) p2.Tick(t, {});
  EXPECT_EQ(d2.count(), 0u);
  std::vector<AlertChange> changes;
  pb::SampleBatch b;
  b.set_endpoint("a");
  pb::Sample* s = b.add_samples();
  s->set_metric("cpu.busy");
  s->set_value(1);
  s->set_time_ms(10 * kMin);
  engine2.OnSamples(b, &changes);
  for (const AlertChange& c : changes) p2.OnChange(c, 10 * kMin);
  for (int64_t t = 10 * kMin; t < 16 * kMin; t += kS) p2.Tick(t, {});
  ASSERT_EQ(d2.count(), 1u);
  EXPECT_EQ(d2.sent()[0].kind, Notification::Kind::kResolved);
  EXPECT_EQ(d2.sent()[0].id, "ops/cpu_high/e1-2");
}

}  // namespace
}  // namespace hw::alerter
