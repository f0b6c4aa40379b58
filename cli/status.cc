// `hostwatch status` (docs/broker.md, Stats): one Stats round trip to the broker backend, printed
// for people or as the BrokerStats message in protobuf's canonical JSON mapping.
#include "cli/status.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/cli_options.h"
#include "common/config/units.h"
#include "common/daemon/flags.h"
#include "common/transport/consumer_link.h"

namespace hw::cli {
namespace {

using hostwatch::v1::BrokerStats;

constexpr std::string_view kUsage =
    "usage: hostwatch status [--json] [--producers N|all] [--rate S] [--timeout S]\n"
    "                        [--broker URL] [--backend URL]\n"
    "                        [--curve-key NAME --server-key FILE]\n"
    "\n"
    "Asks the broker backend for its stats: producers (last seq, last seen, rate), consumer\n"
    "groups (committed offset, end and lag per partition), journal size, appended, duplicates,\n"
    "rejects.\n"
    "  --json       the stats as protobuf's canonical JSON (every field, zeros included)\n"
    "  --producers N|all  list at most N producers (default 50); past N, the N seen least\n"
    "               recently, then how many more there are (--json always has every one)\n"
    "  --rate S     ask twice, S seconds apart, and show the append rate and each group's\n"
    "               commit rate and time to catch up (default 1; 0: ask once, no rates)\n"
    "  --timeout S  how long to wait for the answer (default 5; 0.5 and 500ms work too);\n"
    "               exit 1 when the broker does not answer in time\n";

constexpr std::chrono::milliseconds kDefaultTimeout(5000);

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

// 42s, 5m03s, 2h07m, 3d04h; "-" for never.
std::string HumanAge(int64_t ms) {
  if (ms < 0) ms = 0;
  const int64_t s = ms / 1000;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s / 3600 % 24));
  }
  return buf;
}

unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

// Records a group committed per second between two snapshots (all partitions).
double GroupRate(const hostwatch::v1::GroupStats& now, const BrokerStats* before, double seconds) {
  if (before == nullptr || seconds <= 0) return -1;
  for (const auto& g : before->groups()) {
    if (g.group() != now.group()) continue;
    uint64_t a = 0, b = 0;
    for (const auto& p : g.partitions()) a += p.committed();
    for (const auto& p : now.partitions()) b += p.committed();
    return b >= a ? static_cast<double>(b - a) / seconds : 0;
  }
  return -1;
}

// printf into a std::string.
[[gnu::format(printf, 2, 3)]] void Appendf(std::string* out, const char* format, ...) {
  va_list ap, again;
  va_start(ap, format);
  va_copy(again, ap);
  char buf[512];
  const int n = std::vsnprintf(buf, sizeof buf, format, ap);
  if (n >= 0 && static_cast<size_t>(n) < sizeof buf) {
    out->append(buf, static_cast<size_t>(n));
  } else if (n > 0) {
    std::string big(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), format, again);
    out->append(big.data(), static_cast<size_t>(n));
  }
  va_end(again);
  va_end(ap);
}

constexpr int64_t kSilentAfterMs = 60'000;

void PrintForPeople(const std::string& backend, const BrokerStats& st, const BrokerStats* before,
                    double seconds, size_t max_producers) {
  std::printf(
      "broker %s: up %s, journal %s, appended %llu, duplicates %llu, rejected %llu, skipped %llu\n",
      backend.c_str(), st.started_ms() > 0 ? HumanAge(st.now_ms() - st.started_ms()).c_str() : "?",
      HumanBytes(st.journal_bytes()).c_str(), U(st.appended()), U(st.duplicates()),
      U(st.rejected()), U(st.skipped()));
  if (before != nullptr && seconds > 0) {
    std::printf(
        "appending %.1f envelopes/s (over %.1fs)\n",
        static_cast<double>(st.appended() - std::min(st.appended(), before->appended())) / seconds,
        seconds);
  }
  if (st.recovered_truncated_bytes() > 0 || st.recovered_corrupt_records() > 0) {
    std::printf(
        "recovered at start: %llu bytes of torn or corrupt tail cut, "
        "%llu corrupt records skipped\n",
        U(st.recovered_truncated_bytes()), U(st.recovered_corrupt_records()));
  }

  std::fputs(FormatProducers(st, max_producers).c_str(), stdout);

  std::vector<const hostwatch::v1::GroupStats*> groups;
  for (const auto& g : st.groups()) groups.push_back(&g);
  std::sort(groups.begin(), groups.end(), [](auto* a, auto* b) { return a->group() < b->group(); });
  int w = 5;
  for (auto* g : groups) w = std::max(w, static_cast<int>(g->group().size()));
  std::printf("\ngroups: %zu\n", groups.size());
  if (!groups.empty()) {
    std::printf("  %-*s  %7s  %12s  %12s  %10s\n", w, "GROUP", "MEMBERS", "TOTAL LAG", "COMMITS/S",
                "CATCH-UP");
  }
  for (auto* g : groups) {
    uint64_t total_lag = 0;
    for (const auto& p : g->partitions()) total_lag += p.lag();
    const double rate = GroupRate(*g, before, seconds);
    std::string eta = "-";
    if (total_lag == 0) {
      eta = "caught up";
    } else if (g->members() == 0) {
      eta = "no member";
    } else if (rate > 0) {
      eta = HumanAge(static_cast<int64_t>(static_cast<double>(total_lag) / rate * 1000));
    } else if (rate == 0) {
      eta = "stalled";
    }
    std::printf("  %-*s  %7u  %12llu  %12s  %10s\n", w, g->group().c_str(), g->members(),
                U(total_lag), rate < 0 ? "-" : std::to_string(static_cast<uint64_t>(rate)).c_str(),
                eta.c_str());
  }
  if (!groups.empty()) {
    std::printf("\n");
    std::printf("  %-*s  %7s  %9s  %12s  %12s  %10s\n", w, "GROUP", "MEMBERS", "PARTITION",
                "COMMITTED", "END", "LAG");
  }
  for (auto* g : groups) {
    uint64_t total_lag = 0;
    bool first = true;
    for (const auto& p : g->partitions()) {
      total_lag += p.lag();
      const std::string name = first ? g->group() : "";
      const std::string members = first ? std::to_string(g->members()) : "";
      std::printf("  %-*s  %7s  %9u  %12llu  %12llu  %10llu\n", w, name.c_str(), members.c_str(),
                  p.partition(), U(p.committed()), U(p.end()), U(p.lag()));
      first = false;
    }
    if (first) std::printf("  %-*s  %7u\n", w, g->group().c_str(), g->members());
    if (g->partitions_size() > 1)
      std::printf("  %-*s  %7s  %9s  %12s  %12s  %10llu\n", w, "", "", "total", "", "",
                  U(total_lag));
  }

  std::printf("\npartitions: %d\n", st.partitions_size());
  if (st.partitions_size() > 0) {
    std::printf("  %9s  %12s  %12s  %10s  %8s\n", "PARTITION", "FIRST", "NEXT", "BYTES",
                "SEGMENTS");
  }
  for (const auto& p : st.partitions()) {
    std::printf("  %9u  %12llu  %12llu  %10s  %8u\n", p.partition(), U(p.first_offset()),
                U(p.next_offset()), HumanBytes(p.bytes()).c_str(), p.segments());
  }

  if (!st.rejected_by_reason().empty()) {
    std::vector<std::pair<std::string, uint64_t>> reasons(st.rejected_by_reason().begin(),
                                                          st.rejected_by_reason().end());
    std::sort(reasons.begin(), reasons.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::printf("\nrejected by reason:\n");
    for (const auto& [reason, n] : reasons) std::printf("  %10llu  %s\n", U(n), reason.c_str());
  }
}

}  // namespace

std::string FormatProducers(const BrokerStats& st, size_t max_rows) {
  std::vector<const hostwatch::v1::ProducerStats*> producers;
  for (const auto& p : st.producers()) producers.push_back(&p);
  const size_t silent =
      static_cast<size_t>(std::count_if(producers.begin(), producers.end(), [&](auto* p) {
        return p->last_seen_ms() <= 0 || st.now_ms() - p->last_seen_ms() > kSilentAfterMs;
      }));
  const bool all = max_rows == 0 || producers.size() <= max_rows;
  if (all) {
    std::sort(producers.begin(), producers.end(),
              [](auto* a, auto* b) { return a->source() < b->source(); });
  } else {
    // Stalest first (never seen before anything), ties by source, so the output is stable.
    std::sort(producers.begin(), producers.end(), [](auto* a, auto* b) {
      return a->last_seen_ms() != b->last_seen_ms() ? a->last_seen_ms() < b->last_seen_ms()
                                                    : a->source() < b->source();
    });
  }
  const size_t rows = all ? producers.size() : max_rows;
  std::string out;
  Appendf(&out, "\nproducers: %zu", producers.size());
  if (silent > 0) Appendf(&out, " (%zu silent for over a minute)", silent);
  if (!all) Appendf(&out, "; the %zu seen least recently:", rows);
  out += "\n";
  int w = 6;
  for (size_t i = 0; i < rows; ++i)
    w = std::max(w, static_cast<int>(producers[i]->source().size()));
  if (rows > 0) {
    Appendf(&out, "  %-*s  %12s  %10s  %9s  %10s  %9s\n", w, "SOURCE", "LAST SEQ", "LAST SEEN",
            "ENV/S", "SAMPLES/S", "PARTITION");
  }
  for (size_t i = 0; i < rows; ++i) {
    const hostwatch::v1::ProducerStats* p = producers[i];
    const std::string ago =
        p->last_seen_ms() > 0 ? HumanAge(st.now_ms() - p->last_seen_ms()) + " ago" : "never";
    Appendf(&out, "  %-*s  %12llu  %10s  %9.1f  %10.1f  %9u\n", w, p->source().c_str(),
            U(p->last_seq()), ago.c_str(), p->envelopes_per_s(), p->samples_per_s(),
            p->partition());
  }
  if (!all) {
    const hostwatch::v1::ProducerStats* next = producers[rows];
    Appendf(&out, "  ... and %zu more, each seen in the last %s (--producers all lists them)\n",
            producers.size() - rows, HumanAge(st.now_ms() - next->last_seen_ms()).c_str());
  }
  return out;
}

// Constant-initialized, so cli.cc's table may copy it during its own static initialization.
constinit const std::string_view kStatusUsage = kUsage;

int RunStatus(VerbInput& in) {
  const std::vector<std::string>& args = in.args;
  const BrokerOptions& broker = in.broker;
  bool json = false;
  std::chrono::milliseconds timeout = kDefaultTimeout;
  std::chrono::milliseconds rate_window{1000};
  size_t max_producers = 50;
  Status usage;
  for (size_t i = 0; usage.ok() && i < args.size(); ++i) {
    std::string v;
    if (args[i] == "--json") {
      json = true;
    } else if (TakeFlag(args, &i, "--timeout", &v, &usage)) {
      if (!usage.ok()) break;
      Result<std::chrono::milliseconds> t = ParseSeconds("--timeout", v);
      if (t.ok() && t->count() <= 0) t = Status::InvalidArgument("--timeout must be > 0");
      if (!t.ok()) usage = t.status();
      timeout = t.value_or(timeout);
    } else if (TakeFlag(args, &i, "--producers", &v, &usage)) {
      if (!usage.ok()) break;
      if (v == "all") {
        max_producers = 0;
      } else {
        Result<uint64_t> n = ParseCount("--producers", v);
        if (!n.ok()) usage = n.status();
        max_producers = static_cast<size_t>(n.value_or(max_producers));
      }
    } else if (TakeFlag(args, &i, "--rate", &v, &usage)) {
      if (!usage.ok()) break;
      Result<std::chrono::milliseconds> t = ParseSeconds("--rate", v);
      if (!t.ok()) usage = t.status();
      rate_window = t.value_or(rate_window);
    } else {
      usage = Status::InvalidArgument("unknown argument \"" + args[i] + "\"");
    }
  }
  auto usage_error = [&in](const Status& s) { return in.UsageError(s); };
  if (!usage.ok()) return usage_error(usage);
  Result<std::string> backend = broker.BackendEndpoint();
  if (!backend.ok()) return usage_error(backend.status());
  Result<transport::LinkConfig> link = broker.ToLinkConfig();
  if (!link.ok()) return usage_error(link.status());

  Result<BrokerStats> stats = transport::QueryBrokerStats(*backend, link->curve, timeout);
  if (!stats.ok()) {
    return VerbFailure("status", daemon::kExitRuntime, stats.status().ToString());
  }
  std::optional<BrokerStats> before;
  double seconds = 0;
  if (!json && rate_window.count() > 0) {
    std::this_thread::sleep_for(rate_window);  // the rates are over this window
    Result<BrokerStats> again = transport::QueryBrokerStats(*backend, link->curve, timeout);
    if (again.ok()) {
      seconds = static_cast<double>(again->now_ms() - stats->now_ms()) / 1000.0;
      before = std::move(*stats);
      stats = std::move(again);
    }
  }
  if (json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions opts;
    opts.always_print_primitive_fields = true;  // scripts see 0, not a missing key
    if (!google::protobuf::util::MessageToJsonString(*stats, &out, opts).ok()) {
      return VerbFailure("status", daemon::kExitRuntime, "cannot render the stats as JSON");
    }
    std::printf("%s\n", out.c_str());
  } else {
    PrintForPeople(*backend, *stats, before ? &*before : nullptr, seconds, max_producers);
  }
  return daemon::kExitOk;
}

}  // namespace hw::cli
