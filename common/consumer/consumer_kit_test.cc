#include "common/consumer/consumer_kit.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/base/mutex.h"
#include "common/testing/fake_broker.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::consumer {
namespace {

using namespace std::chrono_literals;
using hostwatch::v1::Envelope;
using hw::testing::FakeBroker;
using hw::testing::FakeBrokerOptions;
using hw::testing::FakeJournal;
using hw::testing::WaitFor;

std::string EnvelopeBytes(const std::string& source, uint64_t seq) {
  Envelope header;
  header.set_source(source);
  header.set_epoch(0xabc);
  header.set_seq(seq);
  Envelope body;
  body.set_sent_ms(1700000000000);
  body.mutable_samples()->set_endpoint(source.substr(0, source.find('/')));
  auto* s = body.mutable_samples()->add_samples();
  s->set_metric("cpu.busy");
  s->set_value(static_cast<double>(seq));
  s->set_time_ms(1700000000000 + static_cast<int64_t>(seq));
  return header.SerializeAsString() + body.SerializeAsString();
}

FakeJournal Journal(uint32_t partitions, uint64_t per_partition) {
  FakeJournal j;
  j.partitions.resize(partitions);
  for (uint32_t p = 0; p < partitions; ++p) {
    for (uint64_t seq = 1; seq <= per_partition; ++seq)
      j.partitions[p].push_back({EnvelopeBytes("host-" + std::to_string(p) + "/collector", seq)});
  }
  return j;
}

uint16_t Port() { return hw::testing::FreeLoopbackPort().value_or(0); }

// A sink that records what it got and finishes deliveries when the test says so.
class RecordingSink : public Sink {
 public:
  void Consume(std::vector<Delivery> batch, Finisher& finisher) override {
    std::vector<DeliveryId> ids;
    MutexLock lock(&mu_);
    finisher_ = &finisher;
    largest_batch_ = std::max(largest_batch_, batch.size());
    for (const Delivery& d : batch) {
      got_.push_back(IdOf(d));
      if (!d.body.empty()) {  // raw_bodies: the header is parsed, the rest is ours to read
        Envelope full;
        EXPECT_TRUE(full.ParseFromArray(d.body.data(), static_cast<int>(d.body.size())));
        EXPECT_FALSE(d.envelope.has_samples());
        EXPECT_EQ(full.seq(), d.envelope.seq());
        EXPECT_EQ(full.source(), d.envelope.source());
        values_.push_back(full.samples().samples(0).value());
      } else {
        values_.push_back(d.envelope.samples().samples(0).value());
      }
      if (finish_at_once_) ids.push_back(IdOf(d));
    }
    if (!ids.empty()) finisher.Finish(ids);
    while (hang_) cv_.Wait(&mu_);
  }
  void Close(Finisher&) override {
    MutexLock lock(&mu_);
    closed_ = true;
  }
  void AppendMetrics(MetricOut out) override { out.Counter("written", 7); }

  size_t count() const {
    MutexLock lock(&mu_);
    return got_.size();
  }
  std::vector<DeliveryId> got() const {
    MutexLock lock(&mu_);
    return got_;
  }
  void FinishNow(std::vector<DeliveryId> ids) {
    Finisher* f = nullptr;
    {
      MutexLock lock(&mu_);
      f = finisher_;
    }
    ASSERT_NE(f, nullptr);
    f->Finish(ids);
  }
  void set_finish_at_once(bool v) {
    MutexLock lock(&mu_);
    finish_at_once_ = v;
  }
  void set_hang(bool v) {
    MutexLock lock(&mu_);
    hang_ = v;
    cv_.SignalAll();
  }
  size_t largest_batch() const {
    MutexLock lock(&mu_);
    return largest_batch_;
  }
  std::vector<double> values() const {
    MutexLock lock(&mu_);
    return values_;
  }
  bool closed() const {
    MutexLock lock(&mu_);
    return closed_;
  }

 private:
  mutable Mutex mu_;
  CondVar cv_;
  std::vector<DeliveryId> got_ GUARDED_BY(mu_);
  std::vector<double> values_ GUARDED_BY(mu_);
  Finisher* finisher_ GUARDED_BY(mu_) = nullptr;
  bool finish_at_once_ GUARDED_BY(mu_) = false;
  size_t largest_batch_ GUARDED_BY(mu_) = 0;
  bool hang_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
};

class ConsumerKitTest : public ::testing::Test {
 protected:
  void StartBroker(FakeJournal journal) {
    FakeBrokerOptions o;
    o.frontend_port = Port();
    o.backend_port = Port();
    broker_ = std::make_unique<FakeBroker>(o, std::move(journal));
    ASSERT_TRUE(broker_->Start());
  }
  KitOptions Options() {
    KitOptions o;
    o.component = "kittest";
    o.endpoint = "kit-host";
    o.link.brokers = {broker_->frontend()};
    o.link.backends = {broker_->backend()};
    o.link.group = "kittest";
    o.link.spool_dir = dir_.Sub("spool").string();
    o.credit = 16;
    o.start_query_timeout = 2s;
    return o;
  }
  std::unique_ptr<ConsumerKit> Start(KitOptions o, RecordingSink** sink_out) {
    auto sink = std::make_unique<RecordingSink>();
    *sink_out = sink.get();
    Result<std::unique_ptr<ConsumerKit>> kit = ConsumerKit::Create(std::move(o), std::move(sink));
    EXPECT_TRUE(kit.ok()) << kit.status().ToString();
    if (!kit.ok()) return nullptr;
    Status s = (*kit)->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(*kit);
  }

  hw::testing::TempDir dir_;
  std::unique_ptr<FakeBroker> broker_;
};

TEST_F(ConsumerKitTest, CommitsOnlyWhatTheSinkFinishedInOrder) {
  StartBroker(Journal(1, 5));
  RecordingSink* sink = nullptr;
  auto kit = Start(Options(), &sink);
  ASSERT_NE(kit, nullptr);
  ASSERT_TRUE(WaitFor([&] { return sink->count() == 5; }, 10s));
  std::vector<DeliveryId> got = sink->got();
  // Finish 3, 4 and 5 first: nothing may be committed while 1 and 2 are open.
  sink->FinishNow({got[2], got[3], got[4]});
  EXPECT_FALSE(WaitFor([&] { return broker_->committed()[0] > 0; }, 300ms));
  sink->FinishNow({got[1]});
  EXPECT_FALSE(WaitFor([&] { return broker_->committed()[0] > 0; }, 300ms));
  sink->FinishNow({got[0]});
  EXPECT_TRUE(WaitFor([&] { return broker_->committed()[0] == got[4].offset; }, 5s))
      << "committed " << broker_->committed()[0];
  EXPECT_EQ(kit->stats().finished, 5u);
  kit->Stop();
  EXPECT_TRUE(sink->closed());
}

TEST_F(ConsumerKitTest, RawBodiesReachTheSinkAsTheirWireBytes) {
  StartBroker(Journal(1, 40));
  KitOptions o = Options();
  o.raw_bodies = true;
  o.max_batch = 7;  // handed over in pieces, not as the whole credit window
  RecordingSink* sink = nullptr;
  auto kit = Start(std::move(o), &sink);
  ASSERT_NE(kit, nullptr);
  ASSERT_TRUE(WaitFor([&] { return sink->count() == 40; }, 10s));
  EXPECT_LE(sink->largest_batch(), 7u);
  sink->FinishNow(sink->got());
  std::vector<double> values = sink->values();
  std::sort(values.begin(), values.end());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(values[i], static_cast<double>(i + 1));
  EXPECT_TRUE(WaitFor([&] { return broker_->committed()[0] == sink->got().back().offset; }, 5s));
  kit->Stop();
}

TEST_F(ConsumerKitTest, BackpressureHoldsDeliveriesUntilTheSinkCatchesUp) {
  StartBroker(Journal(1, 200));
  KitOptions o = Options();
  o.credit = 4;
  o.max_batch = 2;
  o.max_inflight_bytes = 1000;  // a few envelopes of ~100 bytes
  RecordingSink* sink = nullptr;
  auto kit = Start(o, &sink);
  ASSERT_NE(kit, nullptr);
  ASSERT_TRUE(WaitFor([&] { return sink->count() >= 2; }, 10s));
  // Nothing is finished: the kit must stop well short of the journal and wait, not spin.
  ASSERT_TRUE(WaitFor([&] { return kit->stats().backpressure_waits > 5; }, 10s));
  const size_t held = sink->count();
  EXPECT_LT(held, 30u);
  EXPECT_LE(kit->stats().inflight_bytes, 1000u + 2 * 200u);
  // Broker-side, deliveries stay within the credit granted.
  EXPECT_EQ(broker_->over_grants(), 0u);
  // Now finish as they come: everything arrives and is committed.
  sink->set_finish_at_once(true);
  sink->FinishNow(sink->got());
  ASSERT_TRUE(WaitFor([&] { return sink->count() == 200; }, 20s)) << sink->count();
  EXPECT_TRUE(WaitFor([&] { return broker_->committed()[0] == sink->got().back().offset; }, 5s));
}

// While the sink works on one batch and the next waits for it, the link thread takes nothing more:
// later deliveries wait in the socket and come as one batch, not as a wake-up per envelope.
TEST_F(ConsumerKitTest, WhileABatchWaitsForTheSinkTheLinkTakesNoMore) {
  StartBroker(Journal(1, 200));
  KitOptions o = Options();
  o.credit = 8;
  o.max_batch = 2;  // small batches: without the wait, dozens would queue up behind the sink
  auto sink_owner = std::make_unique<RecordingSink>();
  RecordingSink* sink = sink_owner.get();
  sink->set_hang(true);
  auto kit = ConsumerKit::Create(o, std::move(sink_owner));
  ASSERT_TRUE(kit.ok());
  // Destroyed before the kit: a failed assertion must not leave Stop() waiting on a hung sink.
  struct Unhang {
    RecordingSink* sink;
    ~Unhang() { sink->set_hang(false); }
  } unhang{sink};
  ASSERT_TRUE((*kit)->Start().ok());
  ASSERT_TRUE(
      WaitFor([&] { return sink->count() > 0 && (*kit)->stats().waiting_batches >= 1; }, 10s));
  const uint64_t handed = (*kit)->stats().deliveries;
  EXPECT_LE(handed, 4u);
  // Holding the sink: nothing more is handed over. (Before, the link thread kept taking what the
  // broker sent and queued it, batch after batch.)
  EXPECT_FALSE(WaitFor(
      [&] {
        const KitStats s = (*kit)->stats();
        return s.deliveries > handed || s.waiting_batches > 1;
      },
      500ms));
  sink->set_finish_at_once(true);
  sink->FinishNow(sink->got());
  sink->set_hang(false);
  ASSERT_TRUE(WaitFor([&] { return sink->count() == 200; }, 20s)) << sink->count();
  EXPECT_TRUE(WaitFor([&] { return broker_->committed()[0] == sink->got().back().offset; }, 5s));
  EXPECT_EQ(broker_->over_grants(), 0u);
  (*kit)->Stop();
}

TEST_F(ConsumerKitTest, AHungSinkFailsHealthWhileTheLinkThreadGoesOn) {
  StartBroker(Journal(1, 1));
  KitOptions o = Options();
  o.stall_after = 300ms;
  RecordingSink* sink = nullptr;
  auto sink_owner = std::make_unique<RecordingSink>();
  sink = sink_owner.get();
  sink->set_hang(true);
  auto kit = ConsumerKit::Create(o, std::move(sink_owner));
  ASSERT_TRUE(kit.ok());
  ASSERT_TRUE((*kit)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return sink->count() > 0; }, 10s));
  ASSERT_TRUE(WaitFor([&] { return !(*kit)->Health().ok(); }, 5s));
  EXPECT_NE((*kit)->Health().message().find("no progress"), std::string::npos);
  // The link thread does not wait on the sink: deliveries finished from another thread are
  // committed while Consume still hangs.
  sink->FinishNow(sink->got());
  EXPECT_TRUE(WaitFor([&] { return broker_->committed()[0] == sink->got().back().offset; }, 5s));
  EXPECT_FALSE((*kit)->Health().ok());
  sink->set_hang(false);
  ASSERT_TRUE(WaitFor([&] { return (*kit)->Health().ok(); }, 5s));
  (*kit)->Stop();
}

TEST_F(ConsumerKitTest, LatestAppliesOnlyToAGroupTheBrokerDoesNotKnow) {
  StartBroker(Journal(1, 3));
  {
    KitOptions o = Options();
    o.link.start = "latest";
    RecordingSink* sink = nullptr;
    auto kit = Start(o, &sink);
    ASSERT_NE(kit, nullptr);
    EXPECT_EQ(kit->start_used(), "latest");
    ASSERT_TRUE(WaitFor([&] { return !broker_->subscribes().empty(); }, 5s));
    EXPECT_EQ(broker_->subscribes()[0].start(), hostwatch::v1::Subscribe::LATEST);
  }
  // The broker now knows the group with a commit: resume after it.
  hostwatch::v1::BrokerStats stats;
  auto* g = stats.add_groups();
  g->set_group("kittest");
  auto* p = g->add_partitions();
  p->set_partition(0);
  p->set_committed(2);
  broker_->SetStats(stats);
  KitOptions o = Options();
  o.link.start = "latest";
  o.link.spool_dir = dir_.Sub("spool2").string();
  RecordingSink* sink = nullptr;
  auto kit = Start(o, &sink);
  ASSERT_NE(kit, nullptr);
  EXPECT_EQ(kit->start_used(), "committed");
}

TEST_F(ConsumerKitTest, PublishesSelfMetricsWithTheSinksOwn) {
  StartBroker(Journal(1, 1));
  KitOptions o = Options();
  o.self_metrics_interval = 1ms;
  RecordingSink* sink = nullptr;
  auto kit = Start(o, &sink);
  ASSERT_NE(kit, nullptr);
  ASSERT_TRUE(WaitFor(
      [&] {
        (void)kit->Health();
        return broker_->appended_count("kit-host/kittest") > 0;
      },
      10s));
}

TEST(ConsumerKitOptionsTest, RejectsABadStart) {
  KitOptions o;
  o.component = "x";
  o.link.start = "yesterday";
  EXPECT_FALSE(ConsumerKit::Create(o, std::make_unique<RecordingSink>()).ok());
}

}  // namespace
}  // namespace hw::consumer
