#include "common/naming/sample_batch_encoder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/naming/envelope_wire.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::naming {
namespace {

// The encoder must write exactly what protobuf writes for the same envelope.
TEST(SampleBatchEncoderTest, MatchesSerializeToString) {
  struct Item {
    const char* metric;
    const char* tag_value;
    double value;
    int64_t time_ms;
    uint32_t step_s;
  };
  const Item items[] = {
      {"load.m0001", "0", 50.25, 1763780000000, 1},
      {"load.m0002", "12345", 0.0, 1763780000001, 10},  // default value: left out
      {"load.m0003", "7", -0.0, 1, 0},                  // -0.0 is written, step 0 is not
      {"a", "x", -1e300, 1763780000002, 300},
  };
  SampleBatchEncoder enc;
  enc.Begin("old-batch");  // Begin must forget what came before
  enc.Add("stale", "k", "v", 1, 1, 1);
  enc.Begin("loadgen-0001");
  hostwatch::v1::Envelope want;
  auto* b = want.mutable_samples();
  b->set_endpoint("loadgen-0001");
  for (const Item& it : items) {
    enc.Add(it.metric, "host_index", it.tag_value, it.value, it.time_ms, it.step_s);
    auto* s = b->add_samples();
    s->set_metric(it.metric);
    (*s->mutable_tags())["host_index"] = it.tag_value;
    s->set_value(it.value);
    s->set_time_ms(it.time_ms);
    s->set_step_s(it.step_s);
  }
  const std::string got = enc.Finish();
  EXPECT_EQ(got, want.SerializeAsString());

  hostwatch::v1::Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(got));
  ASSERT_EQ(parsed.samples().samples_size(), 4);
  EXPECT_TRUE(std::signbit(parsed.samples().samples(2).value()));

  // With the header the producer link puts in front, the broker's fast check proves it valid.
  hostwatch::v1::Envelope header;
  header.set_source("loadgen-0001/loadgen");
  header.set_seq(1);
  EXPECT_TRUE(SamplesEnvelopeProvablyValid(header.SerializeAsString() + got));
}

TEST(SampleBatchEncoderTest, LongFieldsGetMultiByteLengths) {
  const std::string metric(150, 'm'), value(200, 'v');
  SampleBatchEncoder enc;
  enc.Begin("e");
  hostwatch::v1::Envelope want;
  want.mutable_samples()->set_endpoint("e");
  for (int i = 0; i < 3; ++i) {
    enc.Add(metric, "k", value, 1.5, 1763780000000 + i, 60);
    auto* s = want.mutable_samples()->add_samples();
    s->set_metric(metric);
    (*s->mutable_tags())["k"] = value;
    s->set_value(1.5);
    s->set_time_ms(1763780000000 + i);
    s->set_step_s(60);
  }
  EXPECT_EQ(enc.Finish(), want.SerializeAsString());
}

// The collector's batches: several tags per sample, host tags, counters. Map order on the wire is
// not fixed, so the bytes are compared by what they parse to.
TEST(SampleBatchEncoderTest, TagsHostTagsAndCountersParseBack) {
  using Tags = std::vector<std::pair<std::string, std::string>>;
  SampleBatchEncoder enc;
  enc.Begin("web-01");
  enc.AddHostTag("idc", "sgp");
  enc.AddHostTag("group", "game");
  enc.Add("disk.used", Tags{{"mount", "/"}, {"fstype", "ext4"}, {"device", "/dev/vda"}}, 1.5e9,
          1763780000000, 10);
  enc.Add("agent.alive", Tags{}, 1, 1763780000000, 10);
  enc.Add("hostwatch.collector.errors", Tags{{"plugin", "cpu"}}, 0, 1763780000000, 10,
          /*counter=*/true);
  EXPECT_EQ(enc.samples(), 3u);
  const std::string got = enc.Finish();

  hostwatch::v1::Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(got));
  const hostwatch::v1::SampleBatch& b = parsed.samples();
  EXPECT_EQ(b.endpoint(), "web-01");
  ASSERT_EQ(b.host_tags_size(), 2);
  EXPECT_EQ(b.host_tags().at("idc"), "sgp");
  EXPECT_EQ(b.host_tags().at("group"), "game");
  ASSERT_EQ(b.samples_size(), 3);
  EXPECT_EQ(b.samples(0).metric(), "disk.used");
  ASSERT_EQ(b.samples(0).tags_size(), 3);
  EXPECT_EQ(b.samples(0).tags().at("device"), "/dev/vda");
  EXPECT_EQ(b.samples(0).value(), 1.5e9);
  EXPECT_EQ(b.samples(0).step_s(), 10u);
  EXPECT_EQ(b.samples(0).kind(), hostwatch::v1::Sample::GAUGE);
  EXPECT_EQ(b.samples(1).tags_size(), 0);
  EXPECT_EQ(b.samples(2).kind(), hostwatch::v1::Sample::COUNTER);
  EXPECT_EQ(b.samples(2).value(), 0);

  // Re-serialized by protobuf, the message has the same size: nothing extra was written.
  EXPECT_EQ(parsed.SerializeAsString().size(), got.size());
  hostwatch::v1::Envelope header;
  header.set_source("web-01/collector");
  header.set_seq(7);
  EXPECT_TRUE(SamplesEnvelopeProvablyValid(header.SerializeAsString() + got));
}

}  // namespace
}  // namespace hw::naming
