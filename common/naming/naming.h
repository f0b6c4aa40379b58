// The one validator for what travels in an Envelope (the rules: docs/wire_format.md §3).
//
// Producers call it before spooling a message so a bad name is reported where it was made; the
// broker calls it on every envelope that arrives and answers REJECTED, so one bad producer cannot
// poison a journal that every consumer reads. Both sides must agree byte for byte, which is why
// there is one copy.
//
// Every error is Status::InvalidArgument whose message starts with the field path and shows the
// offending value quoted and escaped (non-printable bytes as \xNN, long values cut), e.g.
//   metric "cpu..busy": empty segment
//   samples[3].tags["mount"] "a\x0Ab": control character \x0A at byte 1
// so it is safe to put into a log line or an Ack.error as is.
//
// All functions are pure and safe to call from any thread. The broker runs these on every sample,
// so the checks are hand-written byte loops that allocate only when they fail.
#pragma once

#include <google/protobuf/map.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::naming {

inline constexpr size_t kMaxTags = 32;
inline constexpr size_t kMaxMetricBytes = 200;
// A DNS name's limit: endpoints are usually hostnames.
inline constexpr size_t kMaxEndpointBytes = 253;
inline constexpr size_t kMaxTagKeyBytes = 64;
inline constexpr size_t kMaxTagValueBytes = 256;
inline constexpr size_t kMaxComponentBytes = 64;
// A rule name becomes part of a metric: log.<rule>.count.
inline constexpr size_t kMaxRuleBytes = 200;
inline constexpr size_t kMaxPathBytes = 4096;  // PATH_MAX
inline constexpr size_t kMaxFields = 64;
inline constexpr size_t kMaxFieldValueBytes = 64 * 1024;  // the default max_line_bytes

// [A-Za-z0-9_.-]{1,200}, and no empty segment: no leading or trailing dot, no "..". Metrics become
// graphite paths, where an empty segment is an empty directory.
Status ValidateMetric(std::string_view name);

// The same verdicts as ValidateMetric, ValidateTagKey and ValidateTagValue without building a
// Status, for callers that need only yes or no on every sample (the broker's wire check).
bool IsValidMetric(std::string_view name);
bool IsValidTagKey(std::string_view key);
bool IsValidTagValue(std::string_view value);

// The validators' fast paths, exposed for tests: each accepts the common case (ASCII names within
// their limits, printable-ASCII tag values) and a subset of what its validator accepts; what they
// turn down is judged, and worded, by the full rules.
namespace internal {
bool FastMetric(std::string_view v);
bool FastTagKey(std::string_view v);
bool FastTagValue(std::string_view v);
}  // namespace internal

// [A-Za-z0-9_]{1,64}. Narrower than a metric so that "k=v" and "metric;k=v" stay unambiguous.
Status ValidateTagKey(std::string_view key);

// 1–256 bytes of valid UTF-8 without control characters: no C0 (0x00–0x1F), no DEL (0x7F), no C1
// (U+0080–U+009F). Tag values end up in e-mail headers, Redis keys and terminal output.
Status ValidateTagValue(std::string_view value);

// [A-Za-z0-9_.-]{1,253}, and neither "." nor "..", which would walk out of a directory named after
// it.
Status ValidateEndpoint(std::string_view endpoint);

// Finite only: NaN and ±inf break every aggregation downstream (avg, graphite, JSON).
Status ValidateValue(double v);

// At most kMaxTags entries; every key a valid tag key, every value a valid tag value.
Status ValidateTags(const google::protobuf::Map<std::string, std::string>& tags);

// "<endpoint>/<component>": the endpoint as ValidateEndpoint, the component [a-z0-9_-]{1,64}.
Status ValidateSource(std::string_view source);

// The endpoint part of a source ("game-01" of "game-01/collector"); empty when there is no '/'.
// Meaningful only for a source that ValidateSource accepted.
std::string_view SourceEndpoint(std::string_view source);

// metric, tags, value finite, time_ms > 0, kind a known value.
Status ValidateSample(const hostwatch::v1::Sample& s);

// ValidateSample for a sample still in pieces, with the same rules and messages: for a producer
// that encodes straight to wire bytes (the collector, SampleBatchEncoder). A tag key given twice
// is an error: a map on the wire would keep only the last.
using TagView = std::pair<std::string_view, std::string_view>;
Status ValidateSampleParts(std::string_view metric, std::span<const TagView> tags, double value,
                           int64_t time_ms);

// endpoint, host_tags (as tags) and every sample; an error names the sample: samples[3].metric ...
Status ValidateSampleBatch(const hostwatch::v1::SampleBatch& b);

// path: 1–4096 bytes of UTF-8 without NUL; rule [A-Za-z0-9_.-]{1,200}; severity a known value other
// than SEVERITY_UNSPECIFIED; at most 64 fields, keys as tag keys, values valid UTF-8 of at most 64
// KiB (may be empty: an optional capture that did not match); time_ms > 0. line is raw bytes: not
// checked.
Status ValidateLogEvent(const hostwatch::v1::LogEvent& e);

// endpoint, host_tags (as tags) and every event: events[2].rule ...
Status ValidateEventBatch(const hostwatch::v1::EventBatch& b);

// rule and key non-empty, state a known value other than STATE_UNSPECIFIED, severity a known value,
// endpoint valid when non-empty, value finite, every text field valid UTF-8.
Status ValidateAlert(const hostwatch::v1::Alert& a);

// Every alert: alerts[0].state ...
Status ValidateAlertBatch(const hostwatch::v1::AlertBatch& b);

// source valid, seq >= 1, a body set and valid. A sample or event batch must carry the endpoint of
// its source: a producer speaks only for itself (and curve.bindings can then bind a key to a
// source).
Status ValidateEnvelope(const hostwatch::v1::Envelope& env);

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800–U+DFFF), nothing above
// U+10FFFF.
bool IsValidUtf8(std::string_view s);

// True for 1..max_bytes of [A-Za-z0-9_.-] other than "." and "..": safe as one file name (key
// names, consumer group names) and as an endpoint.
bool IsSafeName(std::string_view name, size_t max_bytes);

// This host's name as a valid endpoint (every daemon's default `endpoint`):
// characters outside [A-Za-z0-9_.-] become '_', cut to kMaxEndpointBytes; `fallback` if it has
// none.
std::string LocalEndpoint(std::string_view fallback = "localhost");

// Replaces every ill-formed sequence by U+FFFD, one per maximal subpart (the Unicode and WHATWG
// practice), so captures from non-UTF-8 logs can go into LogEvent.fields. The result may be up to
// three times as long as the input; callers that have a size limit apply it afterwards.
std::string SanitizeUtf8(std::string_view s);

// The identity of a series within an endpoint: "metric", or "metric;k=v;k2=v2" with the tags sorted
// by key (byte order). rediscache and the alerter key their state by it, so it must never change.
std::string SeriesKey(const hostwatch::v1::Sample& s);

}  // namespace hw::naming
