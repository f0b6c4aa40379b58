#include "logwatch/interval_stats.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "common/strings/strings.h"

namespace hw::logwatch {
namespace {

namespace pb = hostwatch::v1;

// Buckets grow by 2% (relative error under 1% at the bucket centre); the offset keeps every
// index of a finite double positive, so the sign can carry the value's sign and std::map order is
// value order.
constexpr double kGamma = 1.02;
constexpr int32_t kIndexOffset = 100000;
const double kLogGamma = std::log(kGamma);

int32_t BucketOf(double v) {
  const double a = std::fabs(v);
  if (a < 1e-300) return 0;
  const int32_t i = static_cast<int32_t>(std::ceil(std::log(a) / kLogGamma)) + kIndexOffset;
  return v > 0 ? i : -i;
}

double BucketValue(int32_t key) {
  if (key == 0) return 0;
  const int32_t i = std::abs(key) - kIndexOffset;
  // The centre of (gamma^(i-1), gamma^i].
  const double v = 2 * std::pow(kGamma, i) / (kGamma + 1);
  return key > 0 ? v : -v;
}

void AddSample(pb::SampleBatch* out, std::string metric, const std::string& path, double v,
               int64_t time_ms, uint32_t step_s) {
  pb::Sample* s = out->add_samples();
  s->set_metric(std::move(metric));
  (*s->mutable_tags())["path"] = path;
  s->set_value(v);
  s->set_time_ms(time_ms);
  s->set_step_s(step_s);
  s->set_kind(pb::Sample::GAUGE);
}

template <typename T>
bool Parse(std::string_view s, T* out) {
  const std::optional<T> v = strings::ParseNumber<T>(s);
  if (v) *out = *v;
  return v.has_value();
}
bool ParseU64(std::string_view s, uint64_t* out) { return Parse(s, out); }
bool ParseDouble(std::string_view s, double* out) { return Parse(s, out); }

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= line.size()) {
    size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) sp = line.size();
    out.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
  return out;
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

}  // namespace

std::string EscapeField(std::string_view s) {
  if (s.empty()) return "%";
  std::string out;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '%' || c >= 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string UnescapeField(std::string_view s) {
  if (s == "%") return "";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void ValueStats::Add(double v) {
  if (count == 0) {
    min = max = v;
  } else {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  ++count;
  sum += v;
  ++buckets[BucketOf(v)];
}

double ValueStats::Quantile(double q) const {
  if (count == 0) return 0;
  // The rank of the q-quantile, 1-based (nearest-rank method).
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count)));
  uint64_t seen = 0;
  for (const auto& [key, n] : buckets) {
    seen += n;
    if (seen >= rank) return std::clamp(BucketValue(key), min, max);
  }
  return max;
}

void IntervalStats::Track(const std::string& rule, const std::string& path) {
  counts_.try_emplace({rule, path}, 0);
}

void IntervalStats::Count(const std::string& rule, const std::string& path) {
  ++counts_[{rule, path}];
}

void IntervalStats::Value(const std::string& rule, const std::string& capture,
                          const std::string& path, double v) {
  values_[{rule, capture, path}].Add(v);
}

void IntervalStats::Suppressed(const std::string& rule, const std::string& path) {
  ++suppressed_[{rule, path}];
}

void IntervalStats::Untrack(const std::string& rule, const std::string& path) {
  counts_.erase({rule, path});
  suppressed_.erase({rule, path});
  for (auto it = values_.begin(); it != values_.end();) {
    if (std::get<0>(it->first) == rule && std::get<2>(it->first) == path) {
      it = values_.erase(it);
    } else {
      ++it;
    }
  }
}

void IntervalStats::Drain(int64_t time_ms, uint32_t step_s, pb::SampleBatch* out) {
  for (auto& [key, n] : counts_) {
    AddSample(out, "log." + key.first + ".count", key.second, static_cast<double>(n), time_ms,
              step_s);
    n = 0;
  }
  for (const auto& [key, n] : suppressed_) {
    AddSample(out, "log." + key.first + ".suppressed", key.second, static_cast<double>(n), time_ms,
              step_s);
  }
  suppressed_.clear();
  for (auto& [key, v] : values_) {
    const std::string prefix = "log." + std::get<0>(key) + "." + std::get<1>(key) + ".";
    const std::string& path = std::get<2>(key);
    AddSample(out, prefix + "count", path, static_cast<double>(v.count), time_ms, step_s);
    if (v.count == 0) continue;
    AddSample(out, prefix + "min", path, v.min, time_ms, step_s);
    AddSample(out, prefix + "max", path, v.max, time_ms, step_s);
    AddSample(out, prefix + "avg", path, v.sum / static_cast<double>(v.count), time_ms, step_s);
    AddSample(out, prefix + "p50", path, v.Quantile(0.50), time_ms, step_s);
    AddSample(out, prefix + "p90", path, v.Quantile(0.90), time_ms, step_s);
    AddSample(out, prefix + "p99", path, v.Quantile(0.99), time_ms, step_s);
    v = ValueStats();
  }
}

// One line per series:
//   count <rule> <path> <n>
//   supp <rule> <path> <n>
//   value <rule> <capture> <path> <count> <min> <max> <sum> <key>:<n> ...
std::string IntervalStats::Encode() const {
  std::ostringstream o;
  for (const auto& [key, n] : counts_) {
    o << "count " << key.first << ' ' << EscapeField(key.second) << ' ' << n << '\n';
  }
  for (const auto& [key, n] : suppressed_) {
    o << "supp " << key.first << ' ' << EscapeField(key.second) << ' ' << n << '\n';
  }
  for (const auto& [key, v] : values_) {
    o << "value " << std::get<0>(key) << ' ' << std::get<1>(key) << ' '
      << EscapeField(std::get<2>(key)) << ' ' << v.count << ' ' << FormatDouble(v.min) << ' '
      << FormatDouble(v.max) << ' ' << FormatDouble(v.sum);
    for (const auto& [b, n] : v.buckets) o << ' ' << b << ':' << n;
    o << '\n';
  }
  return o.str();
}

Result<IntervalStats> IntervalStats::Decode(std::string_view text) {
  IntervalStats s;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) continue;
    const std::vector<std::string_view> f = Split(line);
    const auto bad = [&] { return Status::DataLoss("bad stats line: " + std::string(line)); };
    if ((f[0] == "count" || f[0] == "supp") && f.size() == 4) {
      uint64_t n = 0;
      if (!ParseU64(f[3], &n)) return bad();
      auto& m = f[0] == "count" ? s.counts_ : s.suppressed_;
      m[{std::string(f[1]), UnescapeField(f[2])}] = n;
    } else if (f[0] == "value" && f.size() >= 8) {
      ValueStats v;
      if (!ParseU64(f[4], &v.count) || !ParseDouble(f[5], &v.min) || !ParseDouble(f[6], &v.max) ||
          !ParseDouble(f[7], &v.sum)) {
        return bad();
      }
      for (size_t i = 8; i < f.size(); ++i) {
        const size_t colon = f[i].find(':');
        int32_t key = 0;
        uint64_t n = 0;
        if (colon == std::string_view::npos) return bad();
        auto [p, ec] = std::from_chars(f[i].data(), f[i].data() + colon, key);
        if (ec != std::errc() || !ParseU64(f[i].substr(colon + 1), &n)) return bad();
        v.buckets[key] = n;
      }
      s.values_[{std::string(f[1]), std::string(f[2]), UnescapeField(f[3])}] = std::move(v);
    } else {
      return bad();
    }
  }
  return s;
}

}  // namespace hw::logwatch
