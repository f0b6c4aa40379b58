#include "alerter/alerter_sink.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "alerter/pipeline_test_delivery.h"
#include "common/testing/temp_dir.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
constexpr int64_t kS = 1000;
constexpr int64_t kT0 = 1'700'000'000'000;

class RecordingFinisher : public consumer::Finisher {
 public:
  void Finish(std::span<const consumer::DeliveryId> done) override {
    for (const auto& d : done) finished.push_back(d.offset);
  }
  using consumer::Finisher::Finish;
  std::vector<uint64_t> finished;
};

consumer::Delivery SampleDelivery(uint64_t offset, const std::string& ep, double v, int64_t t_ms,
                                  int64_t sent_ms) {
  consumer::Delivery d;
  d.broker = 0;
  d.partition = 1;
  d.offset = offset;
  pb::SampleBatch* b = d.envelope.mutable_samples();
  b->set_endpoint(ep);
  pb::Sample* s = b->add_samples();
  s->set_metric("cpu.busy");
  s->set_value(v);
  s->set_time_ms(t_ms);
  d.envelope.set_sent_ms(sent_ms);
  d.items = 1;  // as the link counts them
  return d;
}

class AlerterSinkTest : public ::testing::Test {
 protected:
  AlerterConfig Config() {
    Result<AlerterConfig> c = ParseAlerterConfig(
        "alerter:\n"
        "  state_dir: " +
            dir_.path().string() +
            "/state\n"
            "  group_wait: 2s\n"
            "  group_interval: 10s\n"
            "  receivers: {ops: {email: [ops@example.com]}}\n"
            "  rules:\n"
            "    - {name: cpu_high, metric: cpu.busy, expr: \"all(#3) > 90\", recover: \"avg(#3) < "
            "80\","
            " receivers: [ops]}\n"
            "    - {name: host_silent, metric: cpu.busy, expr: \"nodata(30s)\", receivers: "
            "[ops]}\n",
        "test.yaml");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }
  std::unique_ptr<AlerterSink> MakeSink(RecordingDelivery** delivery) {
    auto d = std::make_unique<RecordingDelivery>();
    *delivery = d.get();
    SinkOptions o;
    o.now_ms = [this] { return now_; };
    o.publish = [this](const pb::AlertBatch& b) {
      batch_sizes_.push_back(b.alerts_size());
      for (const pb::Alert& a : b.alerts()) published_.push_back(a);
      return Status::Ok();
    };
    return std::make_unique<AlerterSink>(Config(), std::move(d), o);
  }
  void TickFor(AlerterSink& sink, RecordingFinisher& f, int64_t ms) {
    for (int64_t end = now_ + ms; now_ < end; now_ += kS) sink.Tick({}, f);
  }

  testing::TempDir dir_;
  int64_t now_ = kT0;
  std::vector<pb::Alert> published_;
  std::vector<int> batch_sizes_;  // alerts per published AlertBatch
};

void AddSample(consumer::Delivery& d, double v, int64_t t_ms) {
  pb::Sample* s = d.envelope.mutable_samples()->add_samples();
  s->set_metric("cpu.busy");
  s->set_value(v);
  s->set_time_ms(t_ms);
  ++d.items;
}

// Live, the changes of one delivered batch go out in one AlertBatch (not one per envelope), yet a
// change waits behind at most kPublishEverySamples judged samples, not behind a whole long batch.
TEST_F(AlerterSinkTest, LiveChangesShareAnAlertBatchButWaitForABoundedNumberOfSamples) {
  RecordingDelivery* delivery = nullptr;
  auto sink = MakeSink(&delivery);
  ASSERT_TRUE(sink->Open().ok());
  RecordingFinisher f;
  auto breaching = [&](uint64_t offset, const std::string& ep) {
    consumer::Delivery d = SampleDelivery(offset, ep, 95, now_, now_);
    AddSample(d, 96, now_ + 10 * kS);
    AddSample(d, 97, now_ + 20 * kS);  // all(#3) > 90: fires on this one
    return d;
  };
  std::vector<consumer::Delivery> batch;
  batch.push_back(breaching(1, "web-01"));
  batch.push_back(breaching(2, "web-02"));
  consumer::Delivery quiet = SampleDelivery(3, "quiet-01", 10, now_, now_);
  for (uint64_t i = 1; i < AlerterSink::kPublishEverySamples; ++i)
    AddSample(quiet, 10, now_ + static_cast<int64_t>(i) * 10 * kS);
  batch.push_back(std::move(quiet));
  batch.push_back(breaching(4, "web-03"));
  sink->Consume(batch, f);
  EXPECT_FALSE(sink->lagging());
  EXPECT_EQ(batch_sizes_, (std::vector<int>{2, 1}))
      << "web-01 and web-02 together once the quiet host's samples passed the bound, web-03 at the "
         "batch's end";
  EXPECT_EQ(batch_sizes_.size(), 2u);
  ASSERT_EQ(published_.size(), 3u);
  for (const pb::Alert& a : published_) EXPECT_EQ(a.state(), pb::Alert::FIRING);
}

TEST_F(AlerterSinkTest, FinishesOnlyAfterTheStateIsSavedAndARestartDoesNotRenotify) {
  RecordingDelivery* delivery = nullptr;
  auto sink = MakeSink(&delivery);
  ASSERT_TRUE(sink->Open().ok());
  RecordingFinisher f;
  std::vector<consumer::Delivery> batch;
  for (int i = 1; i <= 3; ++i) batch.push_back(SampleDelivery(i, "web-01", 95, now_, now_));
  batch[1].envelope.mutable_samples()->mutable_samples(0)->set_time_ms(now_ + 10 * kS);
  batch[2].envelope.mutable_samples()->mutable_samples(0)->set_time_ms(now_ + 20 * kS);
  sink->Consume(batch, f);
  EXPECT_TRUE(f.finished.empty()) << "nothing is committed before the state is saved";
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].state(), pb::Alert::FIRING);
  TickFor(*sink, f, 3 * kS);
  EXPECT_EQ(f.finished, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "state" / "state.pb"));
  ASSERT_EQ(delivery->count(), 1u);
  EXPECT_EQ(delivery->sent()[0].kind, Notification::Kind::kFiring);
  sink.reset();  // a crash after the save: no Close

  auto again = MakeSink(&delivery);
  ASSERT_TRUE(again->Open().ok());
  RecordingFinisher f2;
  // The broker re-delivers what it thinks is uncommitted: skipped, finished at once.
  again->Consume(batch, f2);
  EXPECT_EQ(f2.finished, (std::vector<uint64_t>{1, 2, 3}));
  std::vector<consumer::Delivery> more = {SampleDelivery(4, "web-01", 97, now_ + 30 * kS, now_)};
  again->Consume(more, f2);
  TickFor(*again, f2, 10 * kS);
  EXPECT_EQ(delivery->count(), 0u) << "still firing: no second FIRING";
  // Healing still produces its RESOLVED.
  std::vector<consumer::Delivery> heal;
  for (int i = 0; i < 3; ++i) {
    heal.push_back(SampleDelivery(5 + i, "web-01", 10, now_ + (40 + 10 * i) * kS, now_));
  }
  again->Consume(heal, f2);
  TickFor(*again, f2, 12 * kS);
  ASSERT_EQ(delivery->count(), 1u);
  EXPECT_EQ(delivery->sent()[0].kind, Notification::Kind::kResolved);
}

TEST_F(AlerterSinkTest, NodataWaitsWhileCatchingUpOnABacklog) {
  RecordingDelivery* delivery = nullptr;
  auto sink = MakeSink(&delivery);
  ASSERT_TRUE(sink->Open().ok());
  RecordingFinisher f;
  // Samples published 5 minutes ago, delivered now: a backlog.
  std::vector<consumer::Delivery> batch = {
      SampleDelivery(1, "a", 1, now_ - 300 * kS, now_ - 300 * kS)};
  sink->Consume(batch, f);
  EXPECT_TRUE(sink->lagging());
  now_ += 40 * kS;
  batch = {SampleDelivery(2, "a", 1, now_ - 200 * kS, now_ - 200 * kS)};
  sink->Consume(batch, f);
  sink->Tick({}, f);
  EXPECT_EQ(sink->engine().stats().firing, 0u) << "no nodata while lagging";
  // Caught up: the live point arrives and nothing was judged silent.
  batch = {SampleDelivery(3, "a", 1, now_, now_)};
  sink->Consume(batch, f);
  EXPECT_FALSE(sink->lagging());
  TickFor(*sink, f, 10 * kS);
  EXPECT_EQ(sink->engine().stats().firing, 0u);
  EXPECT_EQ(delivery->count(), 0u);
}

TEST_F(AlerterSinkTest, ReloadKeepsFiringAlertsOfRulesThatStayAndDropsTheRest) {
  RecordingDelivery* delivery = nullptr;
  auto sink = MakeSink(&delivery);
  ASSERT_TRUE(sink->Open().ok());
  RecordingFinisher f;
  std::vector<consumer::Delivery> batch;
  for (int i = 1; i <= 3; ++i) {
    batch.push_back(SampleDelivery(i, "web-01", 95, now_ + i * 10 * kS, now_));
  }
  sink->Consume(batch, f);
  TickFor(*sink, f, 3 * kS);
  ASSERT_EQ(delivery->count(), 1u);
  ASSERT_EQ(sink->engine().stats().firing, 1u);

  AlerterConfig next = Config();
  next.rules.erase(next.rules.begin() + 1);  // host_silent goes, cpu_high stays
  sink->RequestReload(next);
  TickFor(*sink, f, 2 * kS);
  EXPECT_EQ(sink->engine().stats().firing, 1u) << "cpu_high is still firing after the reload";
  TickFor(*sink, f, 20 * kS);
  EXPECT_EQ(delivery->count(), 1u) << "and is not told again";

  next.rules.clear();
  sink->RequestReload(next);
  TickFor(*sink, f, 2 * kS);
  EXPECT_EQ(sink->engine().stats().firing, 0u) << "an alert whose rule is gone is dropped";
}

}  // namespace
}  // namespace hw::alerter
