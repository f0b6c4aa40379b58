#include "broker/source_table.h"

#include <gtest/gtest.h>

#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::broker {
namespace {

TEST(SourceTableTest, FirstEnvelopeOfAnUnknownSourceIsAppendedWhateverItsSeq) {
  SourceTable t;
  Decision d = t.Check("game-01/collector", 7, 42);
  EXPECT_EQ(d.verdict, Verdict::kAppend);
  EXPECT_EQ(d.ack_seq, 42u);
}

TEST(SourceTableTest, ObserveSaysWhetherTheSourceIsNew) {
  SourceTable t;
  EXPECT_TRUE(t.Observe("a/collector", 7, 1, 1000));
  EXPECT_FALSE(t.Observe("a/collector", 7, 2, 1001));
  EXPECT_FALSE(t.Observe("a/collector", 8, 1, 1002));  // a new epoch of a known source
  EXPECT_TRUE(t.Observe("b/collector", 7, 1, 1003));
  // At max_sources a new source evicts the least recently seen eighth and is still new.
  t.set_max_sources(2);
  EXPECT_TRUE(t.Observe("c/collector", 7, 1, 1004));
  EXPECT_EQ(t.evicted(), 1u);
  EXPECT_FALSE(t.sources().contains("a/collector"));
}

TEST(SourceTableTest, GoBackNDecisions) {
  SourceTable t;
  t.Observe("a/collector", 7, 1, 1000);
  t.Observe("a/collector", 7, 2, 1001);
  EXPECT_EQ(t.Check("a/collector", 7, 3).verdict, Verdict::kAppend);
  Decision dup = t.Check("a/collector", 7, 2);
  EXPECT_EQ(dup.verdict, Verdict::kDuplicate);
  EXPECT_EQ(dup.ack_seq, 2u);
  EXPECT_EQ(t.Check("a/collector", 7, 1).verdict, Verdict::kDuplicate);
  Decision gap = t.Check("a/collector", 7, 5);
  EXPECT_EQ(gap.verdict, Verdict::kGap);
  EXPECT_EQ(gap.ack_seq, 2u);  // the producer resends from 3
  // Another source is independent.
  EXPECT_EQ(t.Check("b/collector", 7, 9).verdict, Verdict::kAppend);
}

TEST(SourceTableTest, NewEpochStartsFreshAndOldEpochKeepsItsOwnCount) {
  SourceTable t;
  t.Observe("a/logwatch", 1, 10, 0);
  EXPECT_EQ(t.Check("a/logwatch", 2, 1).verdict, Verdict::kAppend);
  t.Observe("a/logwatch", 2, 1, 0);
  EXPECT_EQ(t.sources().at("a/logwatch").current_epoch, 2u);
  // A late envelope of epoch 1 still in flight is judged against epoch 1.
  EXPECT_EQ(t.Check("a/logwatch", 1, 10).verdict, Verdict::kDuplicate);
  EXPECT_EQ(t.Check("a/logwatch", 1, 11).verdict, Verdict::kAppend);
  EXPECT_EQ(t.Check("a/logwatch", 2, 1).verdict, Verdict::kDuplicate);
}

TEST(SourceTableTest, KeepsOnlyTheMostRecentEpochs) {
  SourceTable t;
  for (uint64_t e = 1; e <= SourceTable::kMaxEpochs + 2; ++e) t.Observe("a/x", e, 5, 0);
  const SourceState& st = t.sources().at("a/x");
  EXPECT_EQ(st.last_seq.size(), SourceTable::kMaxEpochs);
  EXPECT_FALSE(st.last_seq.contains(1));
  EXPECT_TRUE(st.last_seq.contains(SourceTable::kMaxEpochs + 2));
}

TEST(SourceTableTest, SnapshotRoundTripsWithCoveredOffsets) {
  SourceTable t;
  t.Observe("a/collector", 7, 100, 5000);
  t.Observe("a/collector", 8, 3, 6000);
  t.Observe("b/logwatch", 9, 1, 7000);
  std::string snap = t.Serialize({11, 0, 42, 7});

  SourceTable loaded;
  Result<std::vector<uint64_t>> offsets = loaded.Load(snap);
  ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
  EXPECT_EQ(*offsets, (std::vector<uint64_t>{11, 0, 42, 7}));
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded.Check("a/collector", 7, 100).verdict, Verdict::kDuplicate);
  EXPECT_EQ(loaded.Check("a/collector", 8, 4).verdict, Verdict::kAppend);
  EXPECT_EQ(loaded.Check("a/collector", 8, 9).verdict, Verdict::kGap);
  EXPECT_EQ(loaded.sources().at("a/collector").current_epoch, 8u);
  EXPECT_EQ(loaded.sources().at("b/logwatch").last_seen_ms, 7000);
}

TEST(SourceTableTest, CorruptSnapshotsAreRefused) {
  SourceTable t;
  t.Observe("a/collector", 7, 100, 5000);
  std::string snap = t.Serialize({1});
  SourceTable other;
  other.Observe("keep/me", 1, 1, 0);

  std::string flipped = snap;
  flipped[flipped.size() - 3] ^= 0x40;
  EXPECT_EQ(other.Load(flipped).status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(other.Load(snap.substr(0, snap.size() - 1)).ok());
  EXPECT_FALSE(other.Load("").ok());
  EXPECT_FALSE(other.Load(std::string(64, '\0')).ok());
  // A refused snapshot leaves the table as it was.
  EXPECT_EQ(other.size(), 1u);
}

TEST(EnvelopeHeaderTest, ReadsSourceEpochSeqWithoutTheBody) {
  hostwatch::v1::Envelope env;
  env.set_source("game-01/collector");
  env.set_epoch(0xDEADBEEFCAFEF00Dull);
  env.set_seq(123456789);
  env.set_sent_ms(1);
  auto* batch = env.mutable_samples();
  batch->set_endpoint("game-01");
  for (int i = 0; i < 64; ++i) {
    auto* s = batch->add_samples();
    s->set_metric("cpu.busy");
    s->set_value(i);
    s->set_time_ms(1000 + i);
  }
  Result<EnvelopeHeader> h = ParseEnvelopeHeader(env.SerializeAsString());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->source, "game-01/collector");
  EXPECT_EQ(h->epoch, 0xDEADBEEFCAFEF00Dull);
  EXPECT_EQ(h->seq, 123456789u);
  EXPECT_EQ(h->body_field, 10);
}

TEST(EnvelopeHeaderTest, HeaderPrependedToAStoredBodyParses) {
  // Producers store the body once and prepend (source, epoch, seq) when sending: protobuf merges
  // concatenated messages, so the result is one valid Envelope.
  hostwatch::v1::Envelope body;
  body.mutable_events()->set_endpoint("web-3");
  hostwatch::v1::Envelope header;
  header.set_source("web-3/logwatch");
  header.set_epoch(5);
  header.set_seq(9);
  std::string wire = header.SerializeAsString() + body.SerializeAsString();
  Result<EnvelopeHeader> h = ParseEnvelopeHeader(wire);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->seq, 9u);
  EXPECT_EQ(h->body_field, 11);
  hostwatch::v1::Envelope full;
  ASSERT_TRUE(full.ParseFromString(wire));
  EXPECT_EQ(full.events().endpoint(), "web-3");
  EXPECT_EQ(full.source(), "web-3/logwatch");
}

TEST(EnvelopeHeaderTest, RejectsGarbage) {
  EXPECT_FALSE(ParseEnvelopeHeader("").ok());  // no source or seq
  EXPECT_FALSE(ParseEnvelopeHeader("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").ok());
  EXPECT_FALSE(ParseEnvelopeHeader(std::string("\x0a\x50short", 7)).ok());  // length past the end
  hostwatch::v1::Envelope no_seq;
  no_seq.set_source("a/b");
  EXPECT_FALSE(ParseEnvelopeHeader(no_seq.SerializeAsString()).ok());
}

TEST(SourceTableTest, ARejectionNeverCreatesASourceOrAnEpoch) {
  SourceTable t;
  EXPECT_FALSE(t.ObserveIfKnown("new/x", 1, 5, 1000));
  EXPECT_EQ(t.size(), 0u);
  t.Observe("a/x", 1, 1, 1000);
  EXPECT_FALSE(t.ObserveIfKnown("a/x", 2, 1, 1000));  // an unknown epoch of a known source
  EXPECT_TRUE(t.ObserveIfKnown("a/x", 1, 2, 1000));   // the stream goes on
  EXPECT_EQ(t.Check("a/x", 1, 3).verdict, Verdict::kAppend);
  EXPECT_EQ(t.sources().at("a/x").last_seq.size(), 1u);
}

TEST(SourceTableTest, IdleSourcesExpireAndTheCapEvictsTheOldest) {
  SourceTable t;
  t.Observe("old/x", 1, 1, 1000);
  t.Observe("replayed/x", 1, 1, 0);  // from the journal at start: its clock starts now
  t.Observe("new/x", 1, 1, 9000);
  EXPECT_EQ(t.ExpireIdle(10000, 5000), 1u);
  EXPECT_FALSE(t.sources().contains("old/x"));
  EXPECT_TRUE(t.sources().contains("replayed/x"));
  SourceTable c;
  c.set_max_sources(16);
  for (int i = 0; i < 100; ++i) c.Observe("s" + std::to_string(i) + "/x", 1, 1, 1000 + i);
  EXPECT_LE(c.size(), 16u);
  EXPECT_EQ(c.evicted(), 100u - c.size());
  EXPECT_TRUE(c.sources().contains("s99/x"));
  EXPECT_FALSE(c.sources().contains("s0/x"));
}

TEST(SourceTableTest, ProducerHeaderValidatesTheSourceBeforeCopyingIt) {
  hostwatch::v1::Envelope e;
  e.set_source(std::string(1 << 20, 'a') + "/x");
  e.set_seq(1);
  auto h = ParseProducerHeader(e.SerializeAsString());
  ASSERT_FALSE(h.ok());
  EXPECT_LT(h.status().message().size(), 400u);
  e.set_source("a/x");
  e.set_seq(0);
  EXPECT_FALSE(ParseProducerHeader(e.SerializeAsString()).ok());
  e.set_seq(3);
  ASSERT_TRUE(ParseProducerHeader(e.SerializeAsString()).ok());
}

}  // namespace
}  // namespace hw::broker
