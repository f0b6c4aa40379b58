// The Redis key schema of rediscache/README.md and the value formats written into it. Pure
// functions; the daemon (cache_writer.h) and `hostwatch hosts` share them, so both read and write
// the same names.
//
//   <p>hosts               ZSET   endpoint -> last seen (ms)
//   <p>host:{E}            HASH   first_seen, last_seen, tags (JSON), sources (JSON list)
//   <p>latest:{E}          HASH   series -> "<value> <time_ms>"
//   <p>hist:{E}:<series>   ZSET   score time_ms, member "<time_ms>:<value>"
//   <p>events:{E}          STREAM this endpoint's log events;  <p>events: the fleet's
//   <p>alerts:active       HASH   alert key -> JSON;            <p>alerts:log: STREAM
// {E} is the endpoint inside braces: the Redis Cluster hash tag, so one host's keys share a slot.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::rediscache {

class KeySchema {
 public:
  explicit KeySchema(std::string prefix = "hw:") : p_(std::move(prefix)) {}
  std::string Hosts() const { return p_ + "hosts"; }
  std::string Host(std::string_view e) const { return p_ + "host:{" + std::string(e) + "}"; }
  std::string Latest(std::string_view e) const { return p_ + "latest:{" + std::string(e) + "}"; }
  std::string History(std::string_view e, std::string_view series) const {
    return p_ + "hist:{" + std::string(e) + "}:" + std::string(series);
  }
  std::string Events(std::string_view e) const { return p_ + "events:{" + std::string(e) + "}"; }
  std::string FleetEvents() const { return p_ + "events"; }
  std::string AlertsActive() const { return p_ + "alerts:active"; }
  std::string AlertsLog() const { return p_ + "alerts:log"; }
  const std::string& prefix() const { return p_; }

 private:
  std::string p_;
};

// Shortest text that reads back as the same double: "42.5", "0.1", "1e+21".
std::string FormatValue(double v);
// "metric" or "metric;k=v;k2=v2" with the tags sorted by key.
std::string SeriesName(const hostwatch::v1::Sample& s);
// The same into *out (cleared first), reusing its buffer: the cacher does this per sample.
void SeriesNameInto(const hostwatch::v1::Sample& s, std::string* out);
// "<value> <time_ms>", the latest:{E} field value.
std::string LatestValue(double v, int64_t time_ms);
void LatestValueInto(double v, int64_t time_ms, std::string* out);
// "<time_ms>:<value>", the history member: a replay writes the same member again.
std::string HistoryMember(double v, int64_t time_ms);
void HistoryMemberInto(double v, int64_t time_ms, std::string* out);

// A JSON string literal (quotes included); UTF-8 passes through, control characters and invalid
// bytes are escaped (\u00XX per byte), so any tag value gives valid JSON.
std::string JsonString(std::string_view s);
std::string JsonObject(const std::map<std::string, std::string>& m);
std::string JsonArray(const std::vector<std::string>& v);

// A stream id that is the same every time the same item is delivered, so a replayed XADD is
// refused by Redis ("equal or smaller than the target stream top item") instead of added twice:
// "<sent_ms>-<seq * 65536 + index>". Increasing along one source's sequence.
std::string ReplayStableStreamId(int64_t sent_ms, uint64_t seq, uint32_t index);

// True when metric equals one of patterns or matches it as a glob(7) pattern.
bool MatchesAny(std::string_view metric, const std::vector<std::string>& patterns);

std::string_view SeverityWord(hostwatch::v1::Severity s);
std::string_view AlertStateWord(hostwatch::v1::Alert::State s);

}  // namespace hw::rediscache
