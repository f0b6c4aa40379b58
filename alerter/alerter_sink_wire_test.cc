// The daemon's way in (envelope bytes read by naming::SamplesWire, AlerterSink::HandleBytes) must
// judge exactly as the parsed way (pb::SampleBatch, AlertEngine::OnSamples) that test-alerts and
// the state saved by earlier versions go through: same series, same alert keys, same changes.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "alerter/alerter_sink.h"
#include "alerter/pipeline_test_delivery.h"
#include "common/testing/temp_dir.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
namespace st = hostwatch::alerter::v1;
constexpr int64_t kS = 1000;
constexpr int64_t kT0 = 1'700'000'000'000;

// Protobuf wire bytes written by hand, so that a test can say what a serializer never writes:
// map entries out of order, a key twice, a body field twice, entries with extra fields.
class Wire {
 public:
  Wire& Varint(uint32_t field, uint64_t v) {
    Key(field, 0);
    Raw(v);
    return *this;
  }
  Wire& Double(uint32_t field, double v) {
    Key(field, 1);
    uint64_t u;
    std::memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<char>(u >> (8 * i)));
    return *this;
  }
  Wire& Bytes(uint32_t field, std::string_view v) {
    Key(field, 2);
    Raw(v.size());
    bytes_.append(v);
    return *this;
  }
  Wire& Entry(uint32_t field, std::string_view k, std::string_view v) {
    return Bytes(field, Wire().Bytes(1, k).Bytes(2, v).str());
  }
  const std::string& str() const { return bytes_; }

 private:
  void Key(uint32_t field, int type) { Raw((static_cast<uint64_t>(field) << 3) | type); }
  void Raw(uint64_t v) {
    while (v >= 0x80) {
      bytes_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    bytes_.push_back(static_cast<char>(v));
  }
  std::string bytes_;
};

using Tags = std::vector<std::pair<std::string, std::string>>;

// Sample fields: metric 1, tags 2, value 3, time_ms 4.
std::string SampleBytes(std::string_view metric, const Tags& tags, double value, int64_t t_ms) {
  Wire w;
  w.Bytes(1, metric);
  for (const auto& [k, v] : tags) w.Entry(2, k, v);
  return w.Double(3, value).Varint(4, static_cast<uint64_t>(t_ms)).str();
}

// Envelope: source 1, seq 3, sent_ms 4, samples 10. SampleBatch: endpoint 1, host_tags 2,
// samples 3.
std::string EnvelopeBytes(std::string_view endpoint, const Tags& host_tags,
                          const std::vector<std::string>& samples) {
  Wire batch;
  batch.Bytes(1, endpoint);
  for (const auto& [k, v] : host_tags) batch.Entry(2, k, v);
  for (const std::string& s : samples) batch.Bytes(3, s);
  return Wire()
      .Bytes(1, std::string(endpoint) + "/collector")
      .Varint(3, 1)
      .Varint(4, static_cast<uint64_t>(kT0))
      .Bytes(10, batch.str())
      .str();
}

class RecordingFinisher : public consumer::Finisher {
 public:
  void Finish(std::span<const consumer::DeliveryId> done) override {
    for (const auto& d : done) finished.push_back(d.offset);
  }
  using consumer::Finisher::Finish;
  std::vector<uint64_t> finished;
};

class WirePathTest : public ::testing::Test {
 protected:
  // The rules look at tags (a matcher on `cpu`) and host tags go into the state: a tag read wrong
  // would show as a missing alert or a different key.
  AlerterConfig Config(const std::string& sub) {
    Result<AlerterConfig> c = ParseAlerterConfig(
        "alerter:\n"
        "  state_dir: " +
            (dir_.path() / sub).string() +
            "\n"
            "  receivers: {ops: {email: [ops@example.com]}}\n"
            "  rules:\n"
            "    - {name: cpu_high, metric: cpu.busy, tags: {cpu: total}, expr: \"all(#2) > 90\","
            " recover: \"avg(#2) < 80\", receivers: [ops]}\n"
            "    - {name: disk_full, metric: disk.used, expr: \"any(#1) > 95\", receivers: "
            "[ops]}\n",
        "test.yaml");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }
  std::unique_ptr<AlerterSink> MakeSink(const std::string& sub, std::vector<pb::Alert>* published,
                                        RecordingDelivery** delivery = nullptr) {
    auto d = std::make_unique<RecordingDelivery>();
    if (delivery != nullptr) *delivery = d.get();
    SinkOptions o;
    o.now_ms = [this] { return now_; };
    o.publish = [published](const pb::AlertBatch& b) {
      for (const pb::Alert& a : b.alerts()) published->push_back(a);
      return Status::Ok();
    };
    return std::make_unique<AlerterSink>(Config(sub), std::move(d), o);
  }

  // The same bytes both ways: parsed (as protobuf would, then Feed) and read from the wire.
  void FeedBoth(AlerterSink& parsed, AlerterSink& wire, const std::string& bytes) {
    pb::Envelope env;
    ASSERT_TRUE(env.ParseFromString(bytes));
    parsed.Feed(env, now_);
    EXPECT_TRUE(wire.FeedBytes(bytes, now_));
  }

  static st::AlerterState StateOf(const AlerterSink& sink) {
    st::AlerterState state;
    sink.engine().Save(&state);
    return state;
  }
  static void ExpectSameState(const AlerterSink& a, const AlerterSink& b) {
    google::protobuf::util::MessageDifferencer diff;
    std::string report;
    diff.ReportDifferencesToString(&report);
    EXPECT_TRUE(diff.Compare(StateOf(a), StateOf(b))) << report;
  }
  static std::vector<std::string> Changes(const std::vector<pb::Alert>& alerts) {
    std::vector<std::string> out;
    for (const pb::Alert& a : alerts) out.push_back(a.SerializeAsString());
    return out;
  }

  testing::TempDir dir_;
  int64_t now_ = kT0;
};

TEST_F(WirePathTest, WireAndParsedSamplesGiveTheSameSeriesAlertsAndState) {
  std::vector<pb::Alert> from_parsed, from_wire;
  auto parsed = MakeSink("parsed", &from_parsed);
  auto wire = MakeSink("wire", &from_wire);
  for (int i = 0; i < 6; ++i) {
    now_ += 10 * kS;
    const double v = i < 3 ? 95 : 10;  // fires on the second point, resolves on the fifth
    // Tags out of order, `cpu` twice (the last, "total", wins as in a protobuf map), host tags
    // out of order with `role` twice; a second series on another metric; one with no rule.
    const std::string bytes = EnvelopeBytes(
        "web-01", {{"role", "db"}, {"dc", "eu-1"}, {"role", "web"}},
        {SampleBytes("cpu.busy", {{"mode", "all"}, {"cpu", "0"}, {"cpu", "total"}}, v, now_),
         SampleBytes("disk.used", {{"mount", "/"}}, i == 2 ? 99 : 50, now_),
         SampleBytes("mem.used", {}, 1, now_)});
    FeedBoth(*parsed, *wire, bytes);
    parsed->TickAt(now_);  // publishes
    wire->TickAt(now_);
  }
  ASSERT_EQ(from_wire.size(), 4u) << "cpu_high fires and resolves, disk_full fires and resolves";
  EXPECT_EQ(Changes(from_wire), Changes(from_parsed));
  EXPECT_EQ(from_wire[0].key(), "cpu_high|web-01|cpu.busy;cpu=total;mode=all");
  EXPECT_EQ(from_wire[0].state(), pb::Alert::FIRING);
  ExpectSameState(*parsed, *wire);
  const st::AlerterState state = StateOf(*wire);
  ASSERT_EQ(state.hosts_size(), 1);
  EXPECT_EQ(state.hosts(0).host_tags().at("role"), "web");
  EXPECT_EQ(state.hosts(0).host_tags().size(), 2u);
  EXPECT_EQ(wire->engine().stats().samples, 18u);
  EXPECT_EQ(wire->engine().stats().series, parsed->engine().stats().series);
  EXPECT_EQ(wire->malformed(), 0u);
}

TEST_F(WirePathTest, StateSavedFromParsedSamplesIsTheSameSeriesForWireSamples) {
  std::vector<pb::Alert> published;
  auto parsed = MakeSink("state", &published);
  ASSERT_TRUE(parsed->Open().ok());
  for (int i = 0; i < 2; ++i) {
    now_ += 10 * kS;
    pb::Envelope env;
    pb::SampleBatch* b = env.mutable_samples();
    b->set_endpoint("web-01");
    pb::Sample* s = b->add_samples();
    s->set_metric("cpu.busy");
    (*s->mutable_tags())["mode"] = "all";
    (*s->mutable_tags())["cpu"] = "total";
    s->set_value(95);
    s->set_time_ms(now_);
    parsed->Feed(env, now_);
  }
  ASSERT_EQ(parsed->engine().stats().firing, 1u);
  RecordingFinisher f;
  parsed->Close(f);  // the state as the parsed path saved it
  parsed.reset();

  // A new sink restores that state and goes on from wire bytes: no new series, and the firing
  // alert (found by its key) resolves.
  std::vector<pb::Alert> later;
  auto wire = MakeSink("state", &later);
  ASSERT_TRUE(wire->Open().ok());
  ASSERT_EQ(wire->engine().stats().firing, 1u);
  for (int i = 0; i < 2; ++i) {
    now_ += 10 * kS;
    EXPECT_TRUE(wire->FeedBytes(
        EnvelopeBytes("web-01", {},
                      {SampleBytes("cpu.busy", {{"mode", "all"}, {"cpu", "total"}}, 10, now_)}),
        now_));
  }
  wire->TickAt(now_);
  EXPECT_EQ(wire->engine().stats().series, 1u);
  EXPECT_EQ(wire->engine().stats().firing, 0u);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].state(), pb::Alert::RESOLVED);
  EXPECT_EQ(later[0].key(), "cpu_high|web-01|cpu.busy;cpu=total;mode=all");
}

TEST_F(WirePathTest, ShapesTheWireReaderLeavesToProtobufAreJudgedOnceAfterAFullParse) {
  std::vector<pb::Alert> from_parsed, from_wire;
  auto parsed = MakeSink("parsed", &from_parsed);
  auto wire = MakeSink("wire", &from_wire);
  // A sample in the middle whose tag entry carries an extra field (protobuf skips it; the wire
  // reader gives up there): the first sample was judged from the wire, the rest after the parse.
  for (int i = 0; i < 3; ++i) {
    now_ += 10 * kS;
    Wire odd;
    odd.Bytes(1, "cpu.busy")
        .Bytes(2, Wire().Bytes(1, "cpu").Bytes(2, "total").Varint(3, 7).str())
        .Double(3, 95)
        .Varint(4, static_cast<uint64_t>(now_));
    FeedBoth(*parsed, *wire,
             EnvelopeBytes("db-01", {},
                           {SampleBytes("disk.used", {}, 99, now_), odd.str(),
                            SampleBytes("disk.used", {}, 98, now_ + 1)}));
  }
  // Two samples bodies in one envelope: protobuf merges them into one batch.
  now_ += 10 * kS;
  const std::string two =
      EnvelopeBytes("db-02", {}, {SampleBytes("disk.used", {}, 99, now_)}) +
      Wire()
          .Bytes(10, Wire().Bytes(3, SampleBytes("cpu.busy", {{"cpu", "total"}}, 1, now_)).str())
          .str();
  FeedBoth(*parsed, *wire, two);
  // Events take the full parse always.
  pb::Envelope events;
  events.set_source("db-01/logwatch");
  events.set_seq(1);
  events.mutable_events()->set_endpoint("db-01");
  FeedBoth(*parsed, *wire, events.SerializeAsString());
  parsed->TickAt(now_);
  wire->TickAt(now_);
  EXPECT_EQ(Changes(from_wire), Changes(from_parsed));
  EXPECT_FALSE(from_wire.empty());
  ExpectSameState(*parsed, *wire);
  EXPECT_EQ(wire->engine().stats().samples, 11u) << "no sample judged twice";
  EXPECT_EQ(wire->engine().stats().replayed, parsed->engine().stats().replayed);
  EXPECT_EQ(wire->malformed(), 0u);
}

TEST_F(WirePathTest, BytesThatDoNotParseAreCountedAndSkipped) {
  std::vector<pb::Alert> published;
  auto sink = MakeSink("wire", &published);
  const std::string good =
      EnvelopeBytes("web-01", {{"dc", "eu-1"}},
                    {SampleBytes("disk.used", {{"mount", "/"}}, 99, kT0 + kS),
                     SampleBytes("disk.used", {{"mount", "/var"}}, 99, kT0 + kS)});
  // Cut anywhere: the envelope's framing breaks, or a sample's.
  uint64_t rejected = 0;
  for (size_t n = 1; n < good.size(); ++n) {
    if (!sink->FeedBytes(std::string_view(good).substr(0, n), kT0)) ++rejected;
  }
  EXPECT_GT(rejected, 0u);
  EXPECT_EQ(sink->malformed(), rejected);
  // A sample whose own bytes are broken inside an intact batch: a metric longer than the sample.
  const uint64_t before = sink->malformed();
  EXPECT_FALSE(sink->FeedBytes(EnvelopeBytes("web-02", {},
                                             {std::string("\x0a\x7f"
                                                          "cpu",
                                                          5)}),
                               kT0));
  EXPECT_EQ(sink->malformed(), before + 1);
  EXPECT_FALSE(sink->FeedBytes("\xff\xff\xff", kT0));
  // Nothing went wrong for the good envelope.
  EXPECT_TRUE(sink->FeedBytes(good, kT0));
}

TEST_F(WirePathTest, RawDeliveriesAreJudgedAndAMalformedOneIsStillFinished) {
  std::vector<pb::Alert> published;
  RecordingDelivery* delivery = nullptr;
  auto sink = MakeSink("raw", &published, &delivery);
  ASSERT_TRUE(sink->Open().ok());
  // As the kit hands them over with raw_bodies: the header in the envelope, the body as bytes.
  std::vector<std::string> bodies = {
      EnvelopeBytes("web-01", {}, {SampleBytes("disk.used", {}, 99, now_)}), "\x0a\xff"};
  std::vector<consumer::Delivery> batch;
  for (size_t i = 0; i < bodies.size(); ++i) {
    consumer::Delivery d;
    d.partition = 0;
    d.offset = i + 1;
    d.envelope.set_source("web-01/collector");
    d.envelope.set_seq(i + 1);
    d.envelope.set_sent_ms(now_);
    d.body = bodies[i];
    batch.push_back(std::move(d));
  }
  RecordingFinisher f;
  sink->Consume(batch, f);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].key(), "disk_full|web-01|disk.used");
  EXPECT_EQ(sink->malformed(), 1u);
  for (int i = 0; i < 3; ++i) {
    now_ += kS;
    sink->Tick({}, f);
  }
  EXPECT_EQ(f.finished, (std::vector<uint64_t>{1, 2})) << "a malformed delivery is committed too";
}

}  // namespace
}  // namespace hw::alerter
