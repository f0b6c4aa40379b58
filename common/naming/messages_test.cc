// Values, tag maps and the messages that carry them: samples, log events, alerts and envelopes
// (messages.cc).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <string>

#include "common/naming/naming.h"

namespace hw::naming {
namespace {

using namespace std::string_literals;  // "a\0b"s keeps the NUL
using hostwatch::v1::Alert;
using hostwatch::v1::Envelope;
using hostwatch::v1::EventBatch;
using hostwatch::v1::LogEvent;
using hostwatch::v1::Sample;
using hostwatch::v1::SampleBatch;

// Values

struct ValueCase {
  const char* what;
  double value;
  bool valid;
};

TEST(ValidateValueTest, AcceptsEveryFiniteDoubleAndRejectsTheRest) {
  const ValueCase cases[] = {
      {"zero", 0.0, true},
      {"negative zero", -0.0, true},
      {"denormal min", std::numeric_limits<double>::denorm_min(), true},
      {"DBL_MAX", DBL_MAX, true},
      {"lowest", std::numeric_limits<double>::lowest(), true},
      {"NaN", std::numeric_limits<double>::quiet_NaN(), false},
      {"signalling NaN", std::numeric_limits<double>::signaling_NaN(), false},
      {"+inf", std::numeric_limits<double>::infinity(), false},
      {"-inf", -std::numeric_limits<double>::infinity(), false},
  };
  for (const ValueCase& c : cases) {
    const Status st = ValidateValue(c.value);
    EXPECT_EQ(st.ok(), c.valid) << c.what << ": " << st.ToString();
  }
  EXPECT_EQ(ValidateValue(std::nan("")).message(), "value NaN: not finite");
  EXPECT_EQ(ValidateValue(-INFINITY).message(), "value -inf: not finite");
}

// Tags

google::protobuf::Map<std::string, std::string> NTags(int n) {
  google::protobuf::Map<std::string, std::string> tags;
  for (int i = 0; i < n; ++i) tags["k" + std::to_string(i)] = "v";
  return tags;
}

TEST(ValidateTagsTest, AcceptsThirtyTwoTags) { EXPECT_TRUE(ValidateTags(NTags(32)).ok()); }

TEST(ValidateTagsTest, RejectsThirtyThreeTags) {
  const Status st = ValidateTags(NTags(33));
  EXPECT_EQ(st.message(), "tags: 33 tags, at most 32");
}

TEST(ValidateTagsTest, AcceptsNoTags) { EXPECT_TRUE(ValidateTags(NTags(0)).ok()); }

TEST(ValidateTagsTest, NamesTheBadKey) {
  google::protobuf::Map<std::string, std::string> tags;
  tags["a=b"] = "v";
  EXPECT_EQ(ValidateTags(tags).message(),
            "tags key \"a=b\": invalid character '=' at byte 1 (allowed: A-Za-z0-9_)");
}

TEST(ValidateTagsTest, NamesTheKeyOfTheBadValue) {
  google::protobuf::Map<std::string, std::string> tags;
  tags["mount"] = "";
  EXPECT_EQ(ValidateTags(tags).message(), "tags[\"mount\"] \"\": empty");
}

// Samples

Sample GoodSample() {
  Sample s;
  s.set_metric("cpu.busy");
  (*s.mutable_tags())["cpu"] = "total";
  s.set_value(12.5);
  s.set_time_ms(1700000000000);
  s.set_step_s(10);
  return s;
}

TEST(ValidateSampleTest, AcceptsAGoodSample) { EXPECT_TRUE(ValidateSample(GoodSample()).ok()); }

TEST(ValidateSampleTest, RejectsTimeZero) {
  Sample s = GoodSample();
  s.set_time_ms(0);
  EXPECT_EQ(ValidateSample(s).message(), "time_ms 0: must be > 0 (unix epoch milliseconds)");
}

TEST(ValidateSampleTest, RejectsNegativeTime) {
  Sample s = GoodSample();
  s.set_time_ms(-1);
  EXPECT_FALSE(ValidateSample(s).ok());
}

TEST(ValidateSampleTest, RejectsNaNValue) {
  Sample s = GoodSample();
  s.set_value(std::nan(""));
  EXPECT_EQ(ValidateSample(s).message(), "value NaN: not finite");
}

TEST(ValidateSampleTest, RejectsBadMetric) {
  Sample s = GoodSample();
  s.set_metric("cpu busy");
  EXPECT_FALSE(ValidateSample(s).ok());
}

TEST(ValidateSampleTest, RejectsThirtyThreeTags) {
  Sample s = GoodSample();
  *s.mutable_tags() = NTags(33);
  EXPECT_FALSE(ValidateSample(s).ok());
}

TEST(ValidateSampleTest, RejectsAnUnknownKind) {
  Sample s = GoodSample();
  s.set_kind(static_cast<Sample::Kind>(7));
  EXPECT_EQ(ValidateSample(s).message(), "kind 7: unknown value");
}

SampleBatch GoodSampleBatch(int n) {
  SampleBatch b;
  b.set_endpoint("game-01");
  (*b.mutable_host_tags())["idc"] = "sgp";
  for (int i = 0; i < n; ++i) *b.add_samples() = GoodSample();
  return b;
}

TEST(ValidateSampleBatchTest, AcceptsAGoodBatch) {
  EXPECT_TRUE(ValidateSampleBatch(GoodSampleBatch(5)).ok());
}

TEST(ValidateSampleBatchTest, ErrorNamesTheSampleIndex) {
  SampleBatch b = GoodSampleBatch(5);
  b.mutable_samples(3)->set_metric("cpu..busy");
  EXPECT_EQ(ValidateSampleBatch(b).message(),
            "samples[3].metric \"cpu..busy\": empty segment at byte 4");
}

TEST(ValidateSampleBatchTest, RejectsBadHostTags) {
  SampleBatch b = GoodSampleBatch(1);
  (*b.mutable_host_tags())["idc"] = "a\tb";
  EXPECT_EQ(ValidateSampleBatch(b).message(),
            "host_tags[\"idc\"] \"a\\x09b\": control character \\x09 at byte 1");
}

TEST(ValidateSampleBatchTest, RejectsEmptyEndpoint) {
  SampleBatch b = GoodSampleBatch(1);
  b.set_endpoint("");
  EXPECT_EQ(ValidateSampleBatch(b).message(), "endpoint \"\": empty");
}

// Log events

LogEvent GoodEvent() {
  LogEvent e;
  e.set_path("/var/log/nginx/access.log");
  e.set_rule("nginx_5xx");
  e.set_severity(hostwatch::v1::ERROR);
  e.set_line("1.2.3.4 - - \"GET / HTTP/1.1\" 502 \xFF\x00 raw bytes"s);
  (*e.mutable_fields())["status"] = "502";
  e.set_time_ms(1700000000000);
  return e;
}

TEST(ValidateLogEventTest, AcceptsAGoodEventWhateverItsLineBytes) {
  EXPECT_TRUE(ValidateLogEvent(GoodEvent()).ok());
}

TEST(ValidateLogEventTest, RejectsUnspecifiedSeverity) {
  LogEvent e = GoodEvent();
  e.set_severity(hostwatch::v1::SEVERITY_UNSPECIFIED);
  EXPECT_EQ(ValidateLogEvent(e).message(), "severity SEVERITY_UNSPECIFIED: must be set");
}

TEST(ValidateLogEventTest, RejectsUnknownSeverity) {
  LogEvent e = GoodEvent();
  e.set_severity(static_cast<hostwatch::v1::Severity>(42));
  EXPECT_EQ(ValidateLogEvent(e).message(), "severity 42: unknown value");
}

TEST(ValidateLogEventTest, RejectsEmptyPath) {
  LogEvent e = GoodEvent();
  e.set_path("");
  EXPECT_FALSE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, AcceptsPathOf4096BytesRejects4097) {
  LogEvent e = GoodEvent();
  e.set_path("/" + std::string(4095, 'p'));
  EXPECT_TRUE(ValidateLogEvent(e).ok());
  e.set_path("/" + std::string(4096, 'p'));
  EXPECT_FALSE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, RejectsPathWithNul) {
  LogEvent e = GoodEvent();
  e.set_path("/var/log/a\0b"s);
  EXPECT_FALSE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, RuleAllowsDotsAndHyphensButNotSpaces) {
  LogEvent e = GoodEvent();
  e.set_rule("nginx.5xx-errors");
  EXPECT_TRUE(ValidateLogEvent(e).ok());
  e.set_rule("nginx 5xx");
  EXPECT_FALSE(ValidateLogEvent(e).ok());
  e.set_rule("");
  EXPECT_FALSE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, RejectsTimeZero) {
  LogEvent e = GoodEvent();
  e.set_time_ms(0);
  EXPECT_FALSE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, FieldValuesMayBeEmptyButMustBeUtf8) {
  LogEvent e = GoodEvent();
  (*e.mutable_fields())["user"] = "";
  EXPECT_TRUE(ValidateLogEvent(e).ok());
  (*e.mutable_fields())["user"] = "ro\xFFot";
  EXPECT_EQ(ValidateLogEvent(e).message(),
            "fields[\"user\"] \"ro\\xFFot\": invalid UTF-8 at byte 2");
  (*e.mutable_fields())["user"] = SanitizeUtf8("ro\xFFot");
  EXPECT_TRUE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, FieldValuesUpTo64KiB) {
  LogEvent e = GoodEvent();
  (*e.mutable_fields())["msg"] = std::string(64 * 1024, 'm');
  EXPECT_TRUE(ValidateLogEvent(e).ok());
  (*e.mutable_fields())["msg"] = std::string(64 * 1024 + 1, 'm');
  EXPECT_FALSE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, FieldKeysAreTagKeys) {
  LogEvent e = GoodEvent();
  (*e.mutable_fields())["bad-key"] = "x";
  EXPECT_FALSE(ValidateLogEvent(e).ok());
}

TEST(ValidateLogEventTest, AtMost64Fields) {
  LogEvent e = GoodEvent();
  e.clear_fields();
  for (int i = 0; i < 64; ++i) (*e.mutable_fields())["f" + std::to_string(i)] = "x";
  EXPECT_TRUE(ValidateLogEvent(e).ok());
  (*e.mutable_fields())["f64"] = "x";
  EXPECT_EQ(ValidateLogEvent(e).message(), "fields: 65 fields, at most 64");
}

TEST(ValidateEventBatchTest, ErrorNamesTheEventIndex) {
  EventBatch b;
  b.set_endpoint("web-1");
  *b.add_events() = GoodEvent();
  *b.add_events() = GoodEvent();
  b.mutable_events(1)->set_severity(hostwatch::v1::SEVERITY_UNSPECIFIED);
  EXPECT_EQ(ValidateEventBatch(b).message(),
            "events[1].severity SEVERITY_UNSPECIFIED: must be set");
}

// Alerts

Alert GoodAlert() {
  Alert a;
  a.set_rule("cpu_high");
  a.set_key("cpu_high/game-01/cpu.busy;cpu=total");
  a.set_state(Alert::FIRING);
  a.set_severity(hostwatch::v1::CRITICAL);
  a.set_endpoint("game-01");
  a.set_series("cpu.busy;cpu=total");
  a.set_value(97.5);
  a.set_summary("cpu.busy on game-01 is 97.5 (> 90 for 3 samples)");
  return a;
}

TEST(ValidateAlertTest, AcceptsAGoodAlert) { EXPECT_TRUE(ValidateAlert(GoodAlert()).ok()); }

TEST(ValidateAlertTest, AcceptsAnEmptyEndpoint) {
  Alert a = GoodAlert();
  a.set_endpoint("");  // e.g. one incident for a mass nodata
  EXPECT_TRUE(ValidateAlert(a).ok());
}

TEST(ValidateAlertTest, RejectsUnspecifiedState) {
  Alert a = GoodAlert();
  a.set_state(Alert::STATE_UNSPECIFIED);
  EXPECT_EQ(ValidateAlert(a).message(), "state STATE_UNSPECIFIED: must be set");
}

TEST(ValidateAlertTest, RejectsEmptyRuleOrKey) {
  Alert a = GoodAlert();
  a.set_rule("");
  EXPECT_EQ(ValidateAlert(a).message(), "rule \"\": empty");
  a = GoodAlert();
  a.set_key("");
  EXPECT_EQ(ValidateAlert(a).message(), "key \"\": empty");
}

TEST(ValidateAlertTest, RejectsBadEndpointAndNonFiniteValue) {
  Alert a = GoodAlert();
  a.set_endpoint("game 01");
  EXPECT_FALSE(ValidateAlert(a).ok());
  a = GoodAlert();
  a.set_value(std::numeric_limits<double>::infinity());
  EXPECT_EQ(ValidateAlert(a).message(), "value +inf: not finite");
}

// Envelopes

Envelope SampleEnvelope() {
  Envelope env;
  env.set_source("game-01/collector");
  env.set_epoch(0x1234567890ABCDEFULL);
  env.set_seq(1);
  env.set_sent_ms(1700000000000);
  *env.mutable_samples() = GoodSampleBatch(3);
  return env;
}

TEST(ValidateEnvelopeTest, AcceptsAGoodSampleEnvelope) {
  EXPECT_TRUE(ValidateEnvelope(SampleEnvelope()).ok());
}

TEST(ValidateEnvelopeTest, AcceptsAGoodEventEnvelope) {
  Envelope env = SampleEnvelope();
  env.set_source("game-01/logwatch");
  env.mutable_events()->set_endpoint("game-01");
  *env.mutable_events()->add_events() = GoodEvent();
  EXPECT_TRUE(ValidateEnvelope(env).ok());
}

TEST(ValidateEnvelopeTest, AlertsMayBeAboutOtherEndpoints) {
  Envelope env = SampleEnvelope();
  env.set_source("ops-1/alerter");
  *env.mutable_alerts()->add_alerts() = GoodAlert();  // endpoint game-01
  EXPECT_TRUE(ValidateEnvelope(env).ok());
}

TEST(ValidateEnvelopeTest, RejectsSeqZero) {
  Envelope env = SampleEnvelope();
  env.set_seq(0);
  EXPECT_EQ(ValidateEnvelope(env).message(), "seq 0: must be >= 1 (seq starts at 1)");
}

TEST(ValidateEnvelopeTest, RejectsAMissingBody) {
  Envelope env = SampleEnvelope();
  env.clear_body();
  EXPECT_EQ(ValidateEnvelope(env).message(), "body: not set (one of samples, events, alerts)");
}

TEST(ValidateEnvelopeTest, RejectsABadSource) {
  Envelope env = SampleEnvelope();
  env.set_source("game-01");
  EXPECT_EQ(ValidateEnvelope(env).message(),
            "source \"game-01\": no '/' (expected <endpoint>/<component>)");
}

TEST(ValidateEnvelopeTest, RejectsSamplesForAnotherEndpoint) {
  Envelope env = SampleEnvelope();
  env.mutable_samples()->set_endpoint("game-02");
  EXPECT_EQ(ValidateEnvelope(env).message(),
            "samples.endpoint \"game-02\": differs from the endpoint of source "
            "\"game-01/collector\"");
}

TEST(ValidateEnvelopeTest, RejectsEventsForAnotherEndpoint) {
  Envelope env = SampleEnvelope();
  env.set_source("game-01/logwatch");
  env.mutable_events()->set_endpoint("game-011");
  *env.mutable_events()->add_events() = GoodEvent();
  EXPECT_FALSE(ValidateEnvelope(env).ok());
}

TEST(ValidateEnvelopeTest, ErrorGivesTheFullPathIntoTheBody) {
  Envelope env = SampleEnvelope();
  env.mutable_samples()->mutable_samples(2)->set_time_ms(0);
  EXPECT_EQ(ValidateEnvelope(env).message(),
            "samples.samples[2].time_ms 0: must be > 0 (unix epoch milliseconds)");
}

}  // namespace
}  // namespace hw::naming
