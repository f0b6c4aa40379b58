// Small helpers shared by the benchmark tools (bench/README.md): flags, clocks, pacing,
// percentiles and one-line JSON output. Header-only; the tools are single files on top of it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hw::bench {

using Clock = std::chrono::steady_clock;

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] inline void Die(std::string_view tool, const std::string& message) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(tool.size()), tool.data(), message.c_str());
  std::exit(2);
}

// "--name value" flags; every flag takes a value. Unknown flags are a usage error.
class Flags {
 public:
  Flags(std::string_view tool, int argc, char** argv, std::vector<std::string> known,
        std::string_view usage)
      : tool_(tool) {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        std::fputs(std::string(usage).c_str(), stdout);
        std::exit(0);
      }
      if (std::find(known.begin(), known.end(), a) == known.end() || i + 1 >= argc) {
        std::fprintf(stderr, "%s: bad argument \"%s\"\n%s", std::string(tool).c_str(), a.c_str(),
                     std::string(usage).c_str());
        std::exit(2);
      }
      values_.emplace_back(a, argv[++i]);
    }
  }
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  std::string Str(std::string_view name, std::string dflt) const {
    const std::string* v = Find(name);
    return v ? *v : dflt;
  }
  double Num(std::string_view name, double dflt) const {
    const std::string* v = Find(name);
    if (!v) return dflt;
    char* end = nullptr;
    const double d = std::strtod(v->c_str(), &end);
    if (end == v->c_str() || *end != '\0' || d < 0)
      Die(tool_, std::string(name) + ": want a number, got " + *v);
    return d;
  }
  // A duration given in seconds (fractions allowed), as milliseconds.
  std::chrono::milliseconds Seconds(std::string_view name, double dflt) const {
    return std::chrono::milliseconds(static_cast<int64_t>(Num(name, dflt) * 1000));
  }
  // The default is returned as it is: UINT64_MAX ("no limit") does not survive a trip through
  // double (2^64 converts back out of range, which gave 0, and a tool that stopped at once).
  uint64_t Count(std::string_view name, uint64_t dflt) const {
    return Has(name) ? static_cast<uint64_t>(Num(name, 0)) : dflt;
  }

 private:
  const std::string* Find(std::string_view name) const {
    for (auto it = values_.rbegin(); it != values_.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
    return nullptr;
  }
  std::string_view tool_;
  std::vector<std::pair<std::string, std::string>> values_;
};

// Fixed-rate pacing: Due() is how many messages should have gone out by now (never more than
// total); Wait() sleeps until the next one is due. Callers send Due() - sent in one burst, so a
// late wake-up is caught up at once instead of lowering the rate.
// The workload flags the peer benchmarks share: --count N messages of --size bytes as fast as
// possible, or with --rate R, R msgs/s for --seconds S (the first --warmup seconds not measured).
struct LoadShape {
  size_t size = 100;
  bool latency = false;
  double rate = 0;
  double seconds = 10;
  double warmup = 1;
  uint64_t count = 1000000;
  int64_t timeout_ns = 0;

  // min_size: the bytes a payload needs for its own bookkeeping (e.g. a send timestamp).
  static LoadShape FromFlags(std::string_view tool, const Flags& f, size_t min_size) {
    LoadShape s;
    s.size = f.Count("--size", 100);
    s.latency = f.Has("--rate");
    s.rate = f.Num("--rate", 0);
    s.seconds = f.Num("--seconds", 10);
    s.warmup = f.Num("--warmup", 1);
    s.count = s.latency ? static_cast<uint64_t>(s.rate * s.seconds) : f.Count("--count", 1000000);
    s.timeout_ns = static_cast<int64_t>(f.Num("--timeout", 120) * 1e9);
    if (s.size < min_size) Die(tool, "--size: at least " + std::to_string(min_size));
    if (s.latency && s.rate <= 0) Die(tool, "--rate must be > 0");
    return s;
  }
};

class Pacer {
 public:
  Pacer(double rate, uint64_t total) : rate_(rate), total_(total), start_(Clock::now()) {}
  uint64_t Due() const {
    const double s = std::chrono::duration<double>(Clock::now() - start_).count();
    return std::min<uint64_t>(total_, static_cast<uint64_t>(s * rate_) + 1);
  }
  void Wait(uint64_t sent) const {
    std::this_thread::sleep_until(
        start_ + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(static_cast<double>(sent) / rate_)));
  }
  Clock::time_point start() const { return start_; }

 private:
  double rate_;
  uint64_t total_;
  Clock::time_point start_;
};

// Latency samples in nanoseconds; percentiles by nearest rank.
class Latencies {
 public:
  void Reserve(size_t n) { ns_.reserve(n); }
  void Add(int64_t ns) { ns_.push_back(ns); }
  size_t size() const { return ns_.size(); }
  double PercentileMs(double p) {
    if (ns_.empty()) return 0;
    size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(ns_.size()));
    rank = std::min(rank, ns_.size() - 1);
    std::nth_element(ns_.begin(), ns_.begin() + static_cast<std::ptrdiff_t>(rank), ns_.end());
    return static_cast<double>(ns_[rank]) / 1e6;
  }
  double MaxMs() const {
    return ns_.empty() ? 0 : static_cast<double>(*std::max_element(ns_.begin(), ns_.end())) / 1e6;
  }
  // `"p50_ms": …, "p90_ms": …, "p99_ms": …, "p999_ms": …, "max_ms": …`
  std::string Json() {
    char buf[200];
    const double p50 = PercentileMs(50), p90 = PercentileMs(90), p99 = PercentileMs(99),
                 p999 = PercentileMs(99.9);
    std::snprintf(buf, sizeof buf,
                  "\"latency_samples\": %zu, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, "
                  "\"p999_ms\": %.3f, \"max_ms\": %.3f",
                  ns_.size(), p50, p90, p99, p999, MaxMs());
    return buf;
  }

 private:
  std::vector<int64_t> ns_;
};

}  // namespace hw::bench
