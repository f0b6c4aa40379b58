#include "common/naming/sample_wire.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::naming {
namespace {

using hostwatch::v1::Envelope;
using hostwatch::v1::Sample;

Envelope SamplesEnvelope(int samples) {
  Envelope e;
  e.set_source("game-01/collector");
  e.set_epoch(0x1234567890abcdefULL);
  e.set_seq(42);
  e.set_sent_ms(1700000000123);
  auto* b = e.mutable_samples();
  b->set_endpoint("game-01");
  (*b->mutable_host_tags())["idc"] = "sgp";
  (*b->mutable_host_tags())["role"] = "game server";
  for (int i = 0; i < samples; ++i) {
    Sample* s = b->add_samples();
    s->set_metric("cpu.busy");
    (*s->mutable_tags())["cpu"] = std::to_string(i);
    (*s->mutable_tags())["note"] = "Grüße";
    (*s->mutable_tags())["a"] = "first";
    s->set_value(12.5 * i - 3);
    s->set_time_ms(1700000000000 + i);
    s->set_step_s(10);
    s->set_kind(i % 2 == 0 ? Sample::GAUGE : Sample::COUNTER);
  }
  return e;
}

std::map<std::string, std::string> Sorted(SampleView& s) {
  SortTags(s.tags, &s.tag_count);
  std::map<std::string, std::string> m;
  std::string last;
  for (size_t i = 0; i < s.tag_count; ++i) {
    EXPECT_TRUE(i == 0 || std::string(s.tags[i].key) > last) << "sorted, no repeats";
    last = std::string(s.tags[i].key);
    m[last] = std::string(s.tags[i].value);
  }
  return m;
}

// Reads every sample; false when the reader gave up ("not simple").
bool ReadAll(std::string_view bytes, EnvelopeWire* header, std::string* endpoint,
             std::vector<SampleView>* out) {
  SamplesWire w;
  if (!w.Open(bytes, header)) return false;
  *endpoint = std::string(w.endpoint());
  SampleView s;
  while (w.Next(&s)) out->push_back(s);
  return w.ok() && out->size() == w.samples();
}

// The reader agrees with a full parse on everything it reads.
void ExpectSameAsParse(const std::string& bytes) {
  EnvelopeWire header;
  std::string endpoint;
  std::vector<SampleView> got;
  if (!ReadAll(bytes, &header, &endpoint, &got)) return;  // "not simple" is always allowed
  Envelope e;
  // protobuf also rejects strings that are not UTF-8, which the reader does not check: the broker
  // refuses those envelopes before they reach a journal.
  if (!e.ParseFromString(bytes)) return;
  ASSERT_TRUE(e.has_samples());
  EXPECT_EQ(header.source, e.source());
  EXPECT_EQ(header.epoch, e.epoch());
  EXPECT_EQ(header.seq, e.seq());
  EXPECT_EQ(header.sent_ms, e.sent_ms());
  EXPECT_EQ(endpoint, e.samples().endpoint());
  ASSERT_EQ(got.size(), static_cast<size_t>(e.samples().samples_size()));
  for (size_t i = 0; i < got.size(); ++i) {
    const Sample& p = e.samples().samples(static_cast<int>(i));
    EXPECT_EQ(got[i].metric, p.metric());
    const std::map<std::string, std::string> tags(p.tags().begin(), p.tags().end());
    EXPECT_EQ(Sorted(got[i]), tags);
    EXPECT_EQ(got[i].value, p.value());  // bit-identical, NaN aside (the broker refuses NaN)
    EXPECT_EQ(got[i].time_ms, p.time_ms());
    EXPECT_EQ(got[i].step_s, p.step_s());
    EXPECT_EQ(got[i].kind, static_cast<int32_t>(p.kind()));
  }
}

// An envelope "a/collector" seq 1 with endpoint "a" around one sample's bytes, built by hand.
std::string WrapSample(const std::string& sample) {
  // Tags: (field << 3) | wire type. Lengths below 128 are one byte.
  auto len = [](const std::string& v) { return std::string(1, static_cast<char>(v.size())) + v; };
  const std::string body = "\x0a" + len("a") + "\x1a" + len(sample);     // endpoint, samples
  return "\x0a" + len("a/collector") + "\x18\x01" + "\x52" + len(body);  // source, seq, samples
}

TEST(SampleWireTest, ReadsWhatProtobufWrites) {
  const Envelope e = SamplesEnvelope(64);
  const std::string bytes = e.SerializeAsString();
  SamplesWire w;
  EnvelopeWire header;
  ASSERT_TRUE(w.Open(bytes, &header));
  EXPECT_EQ(header.source, "game-01/collector");
  EXPECT_EQ(header.seq, 42u);
  EXPECT_EQ(header.items, 64u);
  EXPECT_EQ(w.endpoint(), "game-01");
  ASSERT_EQ(w.host_tag_count(), 2u);
  std::map<std::string, std::string> host;
  for (size_t i = 0; i < w.host_tag_count(); ++i)
    host[std::string(w.host_tags()[i].key)] = std::string(w.host_tags()[i].value);
  EXPECT_EQ(host, (std::map<std::string, std::string>{{"idc", "sgp"}, {"role", "game server"}}));
  SampleView s;
  int n = 0;
  while (w.Next(&s)) {
    EXPECT_EQ(s.metric, "cpu.busy");
    EXPECT_EQ(s.value, 12.5 * n - 3);
    EXPECT_EQ(s.time_ms, 1700000000000 + n);
    EXPECT_EQ(s.kind, n % 2);
    EXPECT_EQ(Sorted(s), (std::map<std::string, std::string>{
                             {"a", "first"}, {"cpu", std::to_string(n)}, {"note", "Grüße"}}));
    ++n;
  }
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(n, 64);
  ExpectSameAsParse(bytes);
}

TEST(SampleWireTest, SortTagsKeepsTheLastOfARepeatedKey) {
  TagView tags[] = {{"b", "1"}, {"a", "x"}, {"b", "2"}, {"c", "3"}, {"a", "y"}};
  size_t n = std::size(tags);
  SortTags(tags, &n);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(tags[0].key, "a");
  EXPECT_EQ(tags[0].value, "y");
  EXPECT_EQ(tags[1].value, "2");
  EXPECT_EQ(tags[2].key, "c");
}

TEST(SampleWireTest, OtherShapesAreLeftToTheFullParse) {
  EnvelopeWire header;
  SamplesWire w;
  Envelope events;
  events.set_source("a/logwatch");
  events.set_seq(1);
  events.mutable_events()->set_endpoint("a");
  events.mutable_events()->add_events()->set_path("/var/log/x");
  EXPECT_FALSE(w.Open(events.SerializeAsString(), &header));
  EXPECT_EQ(header.body_field, 11);
  EXPECT_EQ(header.seq, 1u);

  // Two samples bodies on the wire merge in a full parse.
  const std::string one = SamplesEnvelope(2).SerializeAsString();
  EXPECT_FALSE(w.Open(one + one, &header));
  // Truncated.
  EXPECT_FALSE(w.Open(one.substr(0, one.size() - 3), &header));

  // A sample whose value has another wire type (varint 7 in field 3 instead of fixed64): protobuf
  // keeps it as an unknown field, the reader does not guess.
  Sample s;
  s.set_metric("m");
  s.set_time_ms(5);
  const std::string sample = s.SerializeAsString();
  const std::string odd = WrapSample(sample + std::string("\x18\x07", 2));  // outlives the reads
  ASSERT_TRUE(w.Open(odd, &header));
  SampleView v;
  EXPECT_FALSE(w.Next(&v));
  EXPECT_FALSE(w.ok());
  // An unknown field (99, length-delimited) inside a sample is skipped, as protobuf does.
  const std::string unknown = WrapSample(sample + std::string("\x9a\x06\x07ignored", 10));
  ASSERT_TRUE(w.Open(unknown, &header));
  ASSERT_TRUE(w.Next(&v));
  EXPECT_EQ(v.metric, "m");
  EXPECT_EQ(v.time_ms, 5);
  ExpectSameAsParse(unknown);
}

TEST(SampleWireTest, RandomMutationsReadLikeAFullParseOrNotAtAll) {
  google::protobuf::LogSilencer quiet;
  std::mt19937_64 rng(20261205);
  const std::string base = SamplesEnvelope(4).SerializeAsString();
  for (int i = 0; i < 20000; ++i) {
    std::string b = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % b.size();
      switch (rng() % 3) {
        case 0:
          b[at] = static_cast<char>(rng());
          break;
        case 1:
          b.erase(at, 1 + rng() % 4);
          break;
        default:
          b.insert(at, 1, static_cast<char>(rng()));
      }
      if (b.empty()) b = base;
    }
    ExpectSameAsParse(b);
    if (HasFatalFailure() || HasNonfatalFailure()) {
      ADD_FAILURE() << "mutation " << i;
      return;
    }
  }
}

}  // namespace
}  // namespace hw::naming
