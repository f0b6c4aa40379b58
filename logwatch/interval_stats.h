// Per-interval aggregates for `emit: count` and `emit: value` rules (logwatch/README.md):
// log.<rule>.count, log.<rule>.<capture>.{count,min,max,avg,p50,p90,p99} and log.<rule>.suppressed,
// each tagged {path}.
//
// Percentiles come from a log-bucketed histogram (relative error under 1%, clamped to the exact
// min and max), so memory and the offsets file stay small however many lines an interval sees.
// The whole state encodes to text, because it is saved in the offsets file together with the file
// offsets it belongs to: a restart neither loses nor doubles a count (docs/logwatch.md).
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::logwatch {

struct ValueStats {
  uint64_t count = 0;
  double min = 0, max = 0, sum = 0;
  std::map<int32_t, uint64_t> buckets;

  void Add(double v);
  // q in [0, 1]; the bucket's representative value clamped to [min, max]. 0 when empty.
  double Quantile(double q) const;
};

class IntervalStats {
 public:
  // Makes (rule, path) report a count (0 if nothing matched) every interval.
  void Track(const std::string& rule, const std::string& path);
  void Count(const std::string& rule, const std::string& path);
  void Value(const std::string& rule, const std::string& capture, const std::string& path,
             double v);
  void Suppressed(const std::string& rule, const std::string& path);

  // Appends this interval's samples (time_ms, step_s) and starts the next interval: counts go to
  // zero, tracked series stay.
  void Drain(int64_t time_ms, uint32_t step_s, hostwatch::v1::SampleBatch* out);
  // Forgets series whose rule is not in keep (a reload removed it) or whose path is gone.
  void Untrack(const std::string& rule, const std::string& path);

  std::string Encode() const;
  static Result<IntervalStats> Decode(std::string_view text);

  bool operator==(const IntervalStats& o) const { return Encode() == o.Encode(); }

 private:
  using Key = std::pair<std::string, std::string>;  // rule, path
  std::map<Key, uint64_t> counts_;
  std::map<Key, uint64_t> suppressed_;
  std::map<std::tuple<std::string, std::string, std::string>, ValueStats>
      values_;  // rule, capture, path
};

// Offsets-file text escaping: a path may hold spaces, '%' or newlines.
std::string EscapeField(std::string_view s);
std::string UnescapeField(std::string_view s);

}  // namespace hw::logwatch
