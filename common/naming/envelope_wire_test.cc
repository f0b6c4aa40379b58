#include "common/naming/envelope_wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "common/naming/naming.h"
#include "google/protobuf/stubs/logging.h"

namespace hw::naming {
namespace {

using hostwatch::v1::Envelope;
using hostwatch::v1::Sample;

Envelope ValidEnvelope(int samples = 3) {
  Envelope e;
  e.set_source("game-01/collector");
  e.set_epoch(0x1234567890abcdefULL);
  e.set_seq(42);
  e.set_sent_ms(1700000000123);
  auto* b = e.mutable_samples();
  b->set_endpoint("game-01");
  (*b->mutable_host_tags())["idc"] = "sgp";
  for (int i = 0; i < samples; ++i) {
    Sample* s = b->add_samples();
    s->set_metric("cpu.busy");
    (*s->mutable_tags())["cpu"] = std::to_string(i);
    (*s->mutable_tags())["note"] = "Grüße";  // non-ASCII UTF-8 is a valid tag value
    s->set_value(12.5 * i);
    s->set_time_ms(1700000000000 + i);
    s->set_step_s(10);
    s->set_kind(i % 2 == 0 ? Sample::GAUGE : Sample::COUNTER);
  }
  return e;
}

// What the broker would decide with a full parse.
bool FullyValid(const std::string& bytes) {
  Envelope e;
  return e.ParseFromString(bytes) && ValidateEnvelope(e).ok();
}

TEST(EnvelopeWireTest, ValidSamplesEnvelopeIsProven) {
  for (int n : {0, 1, 64}) {
    const std::string bytes = ValidEnvelope(n).SerializeAsString();
    ASSERT_TRUE(FullyValid(bytes));
    EXPECT_TRUE(SamplesEnvelopeProvablyValid(bytes)) << n << " samples";
  }
}

TEST(EnvelopeWireTest, ScanReadsHeaderAndCountsItems) {
  const std::string bytes = ValidEnvelope(5).SerializeAsString();
  EnvelopeWire w;
  ASSERT_TRUE(ScanEnvelope(bytes, &w));
  EXPECT_EQ(w.source, "game-01/collector");
  EXPECT_EQ(w.epoch, 0x1234567890abcdefULL);
  EXPECT_EQ(w.seq, 42u);
  EXPECT_EQ(w.sent_ms, 1700000000123);
  EXPECT_EQ(w.body_field, 10);
  EXPECT_EQ(w.items, 5u);

  Envelope alerts;
  alerts.set_source("a/alerter");
  alerts.set_seq(1);
  alerts.mutable_alerts()->add_alerts()->set_rule("r");
  alerts.mutable_alerts()->add_alerts()->set_rule("s");
  ASSERT_TRUE(ScanEnvelope(alerts.SerializeAsString(), &w));
  EXPECT_EQ(w.body_field, 12);
  EXPECT_EQ(w.items, 2u);
  EXPECT_FALSE(ScanEnvelope(bytes.substr(0, bytes.size() - 1), &w));
}

TEST(EnvelopeWireTest, ScanFollowsOneofMergeAndReplace) {
  // The producer link prepends a header to a stored body, so fields repeat on the wire.
  Envelope a = ValidEnvelope(2), b = ValidEnvelope(3), ev;
  ev.mutable_events()->add_events()->set_path("/x");
  const std::string merged = a.SerializeAsString() + b.SerializeAsString();
  const std::string replaced = a.SerializeAsString() + ev.SerializeAsString();
  for (const std::string* bytes : {&merged, &replaced}) {
    Envelope full;
    ASSERT_TRUE(full.ParseFromString(*bytes));
    EnvelopeWire w;
    ASSERT_TRUE(ScanEnvelope(*bytes, &w));
    const uint64_t items = full.has_samples() ? full.samples().samples_size()
                                              : static_cast<uint64_t>(full.events().events_size());
    EXPECT_EQ(w.items, items);
    EXPECT_EQ(w.body_field, static_cast<int>(full.body_case()));
  }
  // Merged bodies are valid to a full parse, but the fast path leaves them to it.
  EXPECT_FALSE(SamplesEnvelopeProvablyValid(merged));
}

// Every single defect the validator knows about in a samples envelope: never proven valid (and
// the full path agrees that it is invalid, so the case is real).
TEST(EnvelopeWireTest, EveryDefectIsNotProven) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    const char* what;
    std::function<void(Envelope*)> spoil;
  };
  const Case cases[] = {
      {"bad metric",
       [](Envelope* e) { e->mutable_samples()->mutable_samples(1)->set_metric("a..b"); }},
      {"empty metric",
       [](Envelope* e) { e->mutable_samples()->mutable_samples(0)->clear_metric(); }},
      {"NaN", [&](Envelope* e) { e->mutable_samples()->mutable_samples(2)->set_value(nan); }},
      {"inf", [&](Envelope* e) { e->mutable_samples()->mutable_samples(0)->set_value(-inf); }},
      {"no time", [](Envelope* e) { e->mutable_samples()->mutable_samples(0)->clear_time_ms(); }},
      {"negative time",
       [](Envelope* e) { e->mutable_samples()->mutable_samples(0)->set_time_ms(-5); }},
      {"unknown kind",
       [](Envelope* e) {
         e->mutable_samples()->mutable_samples(0)->set_kind(static_cast<Sample::Kind>(7));
       }},
      {"tag key",
       [](Envelope* e) {
         (*e->mutable_samples()->mutable_samples(0)->mutable_tags())["a b"] = "x";
       }},
      {"empty tag key",
       [](Envelope* e) { (*e->mutable_samples()->mutable_samples(0)->mutable_tags())[""] = "x"; }},
      {"tag value control",
       [](Envelope* e) {
         (*e->mutable_samples()->mutable_samples(0)->mutable_tags())["k"] = "a\x01";
       }},
      {"empty tag value",
       [](Envelope* e) { (*e->mutable_samples()->mutable_samples(0)->mutable_tags())["k"] = ""; }},
      {"too many tags",
       [](Envelope* e) {
         auto& tags = *e->mutable_samples()->mutable_samples(0)->mutable_tags();
         for (int i = 0; i < 40; ++i) tags["t" + std::to_string(i)] = "v";
       }},
      {"host tag", [](Envelope* e) { (*e->mutable_samples()->mutable_host_tags())["k"] = "\x7f"; }},
      {"endpoint mismatch", [](Envelope* e) { e->mutable_samples()->set_endpoint("game-02"); }},
      {"no endpoint", [](Envelope* e) { e->mutable_samples()->clear_endpoint(); }},
      {"bad endpoint", [](Envelope* e) { e->mutable_samples()->set_endpoint("game 01"); }},
      {"bad source", [](Envelope* e) { e->set_source("game-01"); }},
      {"no source", [](Envelope* e) { e->clear_source(); }},
      {"seq 0", [](Envelope* e) { e->set_seq(0); }},
      {"no body", [](Envelope* e) { e->clear_body(); }},
  };
  for (const Case& c : cases) {
    Envelope e = ValidEnvelope();
    c.spoil(&e);
    const std::string bytes = e.SerializeAsString();
    EXPECT_FALSE(FullyValid(bytes)) << c.what << ": the case should be invalid";
    EXPECT_FALSE(SamplesEnvelopeProvablyValid(bytes)) << c.what;
  }
  // Not samples: left to the full parse even when valid.
  Envelope ev;
  ev.set_source("game-01/logwatch");
  ev.set_seq(1);
  ev.mutable_events()->set_endpoint("game-01");
  EXPECT_FALSE(SamplesEnvelopeProvablyValid(ev.SerializeAsString()));
}

// Random damage to valid envelopes: whenever the fast path says "valid", so must the full path;
// whenever a full parse succeeds, the scan reads the same header and item count.
TEST(EnvelopeWireTest, RandomMutationsNeverProveAnInvalidEnvelope) {
  google::protobuf::LogSilencer quiet;  // invalid UTF-8 in a string field is logged as an error
  std::mt19937_64 rng(20261122);
  const std::string base = ValidEnvelope(4).SerializeAsString();
  int proven = 0, fully_valid = 0;
  constexpr int kRounds = 100000;
  for (int round = 0; round < kRounds; ++round) {
    std::string m = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !m.empty(); ++k) {
      const size_t at = rng() % m.size();
      switch (rng() % 6) {
        case 0:  // flip some bits
          m[at] = static_cast<char>(m[at] ^ static_cast<char>(1 + rng() % 255));
          break;
        case 1:  // a random byte
          m[at] = static_cast<char>(rng());
          break;
        case 2:
          m.insert(at, 1, static_cast<char>(rng()));
          break;
        case 3:
          m.erase(at, 1 + rng() % 4);
          break;
        case 4:
          m.resize(at);
          break;
        default: {  // repeat a slice (duplicated fields and entries)
          const size_t len = 1 + rng() % 16;
          m.insert(at, m.substr(rng() % m.size(), len));
        }
      }
    }
    const bool full = FullyValid(m);
    const bool fast = SamplesEnvelopeProvablyValid(m);
    fully_valid += full;
    proven += fast;
    ASSERT_FALSE(fast && !full) << "proven valid but invalid, round " << round;

    Envelope parsed;
    if (parsed.ParseFromString(m)) {
      EnvelopeWire w;
      ASSERT_TRUE(ScanEnvelope(m, &w)) << "round " << round;
      EXPECT_EQ(w.source, parsed.source());
      EXPECT_EQ(w.epoch, parsed.epoch());
      EXPECT_EQ(w.seq, parsed.seq());
      EXPECT_EQ(w.sent_ms, parsed.sent_ms());
      EXPECT_EQ(w.body_field, static_cast<int>(parsed.body_case()));
      uint64_t items = 0;
      if (parsed.has_samples()) items = parsed.samples().samples_size();
      if (parsed.has_events()) items = parsed.events().events_size();
      if (parsed.has_alerts()) items = parsed.alerts().alerts_size();
      EXPECT_EQ(w.items, items) << "round " << round;
    }
  }
  // The mutations must leave some envelopes valid, and the fast path must take most of those,
  // or this test proves nothing.
  EXPECT_GT(fully_valid, kRounds / 50);
  EXPECT_GT(proven, fully_valid / 2);
}

}  // namespace
}  // namespace hw::naming
