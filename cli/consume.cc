// `hostwatch consume` (README.md): reads a consumer group through the consumer link, prints
// each batch, and commits it once printed, so what a script saw is what the group moved past.
#include "cli/consume.h"

#include <fnmatch.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli_options.h"
#include "common/config/units.h"
#include "common/daemon/flags.h"
#include "common/daemon/logging.h"
#include "common/strings/strings.h"
#include "common/transport/consumer_link.h"

namespace hw::cli {
namespace {

using Clock = std::chrono::steady_clock;
using hostwatch::v1::Envelope;
using transport::ConsumerLink;
using transport::Delivery;

constexpr std::string_view kUsage =
    "usage: hostwatch consume --group G [--topics samples,events,alerts]\n"
    "         [--start committed|earliest|latest] [--count N] [--timeout S] [--idle S]\n"
    "         [--format text|json|summary] [--json] [--credit N]\n"
    "         [--endpoint GLOB] [--metric GLOB]\n"
    "         [--broker URL] [--backend URL] [--curve-key NAME --server-key FILE]\n"
    "\n"
    "Reads the group and commits after printing each batch. Stops after N items (samples,\n"
    "events or alerts), after S seconds in all (--timeout), or after S seconds without a\n"
    "delivery (--idle); without any of them it runs until interrupted. Exit 0, or 3 when\n"
    "--timeout ended it before --count was reached.\n"
    "  --format text     one line per envelope for people (the default)\n"
    "  --format json     one line per envelope: protobuf's canonical JSON, plus\n"
    "                    \"partition\" and \"offset\"\n"
    "  --format summary  at the end, per source and epoch: received, missing seqs,\n"
    "                    duplicates, items\n"
    "  --json            the summary as JSON (--json alone means --format summary --json)\n"
    "  --endpoint GLOB   only envelopes from these endpoints (shell glob on the source's\n"
    "                    endpoint); the others are committed unseen and do not count as\n"
    "                    activity for --idle or items for --count\n"
    "  --metric GLOB     likewise: only envelopes with a matching metric (samples), log rule\n"
    "                    (events) or alert rule (alerts)\n"
    "Seconds may be fractional (0.5) or a duration (500ms, 2m).\n";

enum class Format { kText, kJson, kSummary };

struct ConsumeFlags {
  transport::ConsumerOptions consumer;
  std::optional<uint64_t> count;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::chrono::milliseconds> idle;
  Format format = Format::kText;
  bool json = false;
  std::string endpoint_glob, metric_glob;
};

bool GlobMatch(const std::string& pattern, const std::string& s) {
  return pattern.empty() || fnmatch(pattern.c_str(), s.c_str(), 0) == 0;
}

// Whether a delivery passes --endpoint and --metric.
bool Wanted(const ConsumeFlags& f, const Envelope& e) {
  if (!f.endpoint_glob.empty() &&
      !GlobMatch(f.endpoint_glob, e.source().substr(0, e.source().find('/'))))
    return false;
  if (f.metric_glob.empty()) return true;
  for (const auto& s : e.samples().samples())
    if (GlobMatch(f.metric_glob, s.metric())) return true;
  for (const auto& ev : e.events().events())
    if (GlobMatch(f.metric_glob, ev.rule())) return true;
  for (const auto& a : e.alerts().alerts())
    if (GlobMatch(f.metric_glob, a.rule())) return true;
  return false;
}

std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted = true; }

// Installs SIGINT/SIGTERM handlers for its lifetime, without SA_RESTART so a wait returns at once.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = false;
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

Status ParseTopics(const std::string& text, std::vector<hostwatch::v1::Topic>* out) {
  for (std::string_view t : strings::Split(text, ',')) {
    if (t == "samples") {
      out->push_back(hostwatch::v1::SAMPLES);
    } else if (t == "events") {
      out->push_back(hostwatch::v1::EVENTS);
    } else if (t == "alerts") {
      out->push_back(hostwatch::v1::ALERTS);
    } else {
      return Status::InvalidArgument("--topics: \"" + std::string(t) +
                                     "\" is not samples, events or alerts");
    }
  }
  return Status::Ok();
}

Status ParseFlags(const std::vector<std::string>& args, const BrokerOptions& broker,
                  ConsumeFlags* out) {
  HW_ASSIGN_OR_RETURN(out->consumer.link, broker.ToLinkConfig());
  std::optional<Format> format;
  for (size_t i = 0; i < args.size(); ++i) {
    Status err;
    std::string v;
    if (args[i] == "--json") {
      out->json = true;
    } else if (TakeFlag(args, &i, "--group", &out->consumer.group, &err)) {
      HW_RETURN_IF_ERROR(err);
    } else if (TakeFlag(args, &i, "--topics", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      HW_RETURN_IF_ERROR(ParseTopics(v, &out->consumer.topics));
    } else if (TakeFlag(args, &i, "--start", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      if (v == "committed") {
        out->consumer.start = hostwatch::v1::Subscribe::COMMITTED;
      } else if (v == "earliest") {
        out->consumer.start = hostwatch::v1::Subscribe::EARLIEST;
      } else if (v == "latest") {
        out->consumer.start = hostwatch::v1::Subscribe::LATEST;
      } else {
        return Status::InvalidArgument("--start \"" + v + "\": want committed, earliest or latest");
      }
    } else if (TakeFlag(args, &i, "--count", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      HW_ASSIGN_OR_RETURN(out->count, ParseCount("--count", v));
    } else if (TakeFlag(args, &i, "--timeout", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      HW_ASSIGN_OR_RETURN(out->timeout, ParseSeconds("--timeout", v));
    } else if (TakeFlag(args, &i, "--idle", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      HW_ASSIGN_OR_RETURN(out->idle, ParseSeconds("--idle", v));
    } else if (TakeFlag(args, &i, "--endpoint", &out->endpoint_glob, &err) ||
               TakeFlag(args, &i, "--metric", &out->metric_glob, &err)) {
      if (!err.ok()) return err;
    } else if (TakeFlag(args, &i, "--credit", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      HW_ASSIGN_OR_RETURN(uint64_t credit, ParseCount("--credit", v));
      if (credit == 0 || credit > 1000000)
        return Status::InvalidArgument("--credit: want 1-1000000");
      out->consumer.credit = static_cast<uint32_t>(credit);
    } else if (TakeFlag(args, &i, "--format", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      if (v == "text") {
        format = Format::kText;
      } else if (v == "json") {
        format = Format::kJson;
      } else if (v == "summary") {
        format = Format::kSummary;
      } else {
        return Status::InvalidArgument("--format \"" + v + "\": want text, json or summary");
      }
    } else {
      return Status::InvalidArgument("unknown argument \"" + args[i] + "\"");
    }
  }
  if (out->consumer.group.empty()) return Status::InvalidArgument("--group is required");
  out->format = format.value_or(out->json ? Format::kSummary : Format::kText);
  // A summary needs only who sent what and how many items: no Sample is built.
  out->consumer.parse_bodies = out->format != Format::kSummary || !out->metric_glob.empty();
  return Status::Ok();
}

// The link's key for a (source, epoch): "<source>#<epoch as 16 hex digits>".
std::string SourceKey(const Envelope& e) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(e.epoch()));
  return e.source() + "#" + hex;
}

// What this run printed and committed, per (source, epoch). The link counts everything it received,
// which with --count can be more than was taken; duplicates and malformed come from the link.
class Processed {
 public:
  void Add(const Envelope& e, uint64_t items) {
    transport::SourceSummary& s = sources_[SourceKey(e)];
    ++s.received;
    s.items += items;
    s.max_seq = std::max(s.max_seq, e.seq());
  }
  transport::ConsumerStats Summary(const transport::ConsumerStats& link) const {
    transport::ConsumerStats out;
    out.deliveries = link.deliveries;
    out.duplicates = link.duplicates;
    out.malformed = link.malformed;
    out.sources = sources_;
    for (const auto& [key, s] : link.sources) {
      if (s.duplicates > 0) out.sources[key].duplicates = s.duplicates;
    }
    for (auto& [key, s] : out.sources)
      s.missing = s.max_seq > s.received ? s.max_seq - s.received : 0;
    return out;
  }

 private:
  std::map<std::string, transport::SourceSummary> sources_;
};

// Printable and on one line: control bytes and non-ASCII shown as \xNN (log lines are not UTF-8).
std::string Printable(std::string_view s, size_t max) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

void PrintText(const Delivery& d) {
  const Envelope& e = d.envelope;
  std::string line = std::to_string(d.partition) + "@" + std::to_string(d.offset) + " " +
                     e.source() + " #" + std::to_string(e.seq());
  if (e.has_samples()) {
    line += " samples " + std::to_string(e.samples().samples_size()) + ":";
    int shown = 0;
    for (const auto& s : e.samples().samples()) {
      if (++shown > 4) {
        line += " ...";
        break;
      }
      char value[32];
      std::snprintf(value, sizeof value, "%g", s.value());
      line += " " + s.metric() + "=" + value;
    }
  } else if (e.has_events()) {
    line += " events " + std::to_string(e.events().events_size()) + ":";
    for (const auto& ev : e.events().events()) {
      line += " [" + ev.rule() + "] " + Printable(ev.line(), 120);
      break;
    }
  } else if (e.has_alerts()) {
    line += " alerts " + std::to_string(e.alerts().alerts_size()) + ":";
    for (const auto& a : e.alerts().alerts()) {
      line += " " + a.key() + " " + hostwatch::v1::Alert::State_Name(a.state());
      break;
    }
  }
  line += "\n";
  std::fputs(line.c_str(), stdout);
}

void PrintJson(const Delivery& d) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;  // the canonical mapping
  if (!google::protobuf::util::MessageToJsonString(d.envelope, &json, opts).ok() || json.empty() ||
      json[0] != '{') {
    json = "{}";
  }
  std::string line =
      "{\"partition\":" + std::to_string(d.partition) + ",\"offset\":" + std::to_string(d.offset);
  line += json.size() > 2 ? "," + json.substr(1) : "}";
  line += "\n";
  std::fputs(line.c_str(), stdout);
}

using strings::JsonString;

struct Totals {
  uint64_t received = 0, missing = 0, duplicates = 0, items = 0;
  void Add(const transport::SourceSummary& s) {
    received += s.received;
    missing += s.missing;
    duplicates += s.duplicates;
    items += s.items;
  }
  std::string Json() const {
    return "\"received\": " + std::to_string(received) +
           ", \"missing\": " + std::to_string(missing) +
           ", \"duplicates\": " + std::to_string(duplicates) +
           ", \"items\": " + std::to_string(items);
  }
};

// "<source>#<epoch hex>" -> (source, epoch hex).
std::pair<std::string, std::string> SplitKey(const std::string& key) {
  const size_t hash = key.rfind('#');
  if (hash == std::string::npos) return {key, ""};
  return {key.substr(0, hash), key.substr(hash + 1)};
}

void PrintSummaryJson(const transport::ConsumerStats& st) {
  Totals all;
  std::map<std::string, Totals> per_source;
  std::map<std::string, std::string> epochs;  // source -> the epochs object's members
  for (const auto& [key, s] : st.sources) {
    auto [source, epoch] = SplitKey(key);
    all.Add(s);
    per_source[source].Add(s);
    std::string& e = epochs[source];
    if (!e.empty()) e += ", ";
    e += JsonString(epoch) + ": {" + Totals{s.received, s.missing, s.duplicates, s.items}.Json() +
         ", \"max_seq\": " + std::to_string(s.max_seq) + "}";
  }
  std::string out = "{" + all.Json() + ", \"malformed\": " + std::to_string(st.malformed) +
                    ", \"deliveries\": " + std::to_string(st.deliveries) + ", \"sources\": {";
  bool first = true;
  for (const auto& [source, t] : per_source) {
    out += (first ? "" : ", ") + JsonString(source) + ": {" + t.Json() + ", \"epochs\": {" +
           epochs[source] + "}}";
    first = false;
  }
  out += "}}\n";
  std::fputs(out.c_str(), stdout);
}

void PrintSummaryTable(const transport::ConsumerStats& st) {
  size_t width = 6;
  for (const auto& [key, s] : st.sources) width = std::max(width, SplitKey(key).first.size());
  const int w = static_cast<int>(width);
  std::printf("%-*s  %-16s  %10s  %8s  %10s  %10s  %10s\n", w, "SOURCE", "EPOCH", "RECEIVED",
              "MISSING", "DUPLICATES", "ITEMS", "MAX SEQ");
  Totals all;
  for (const auto& [key, s] : st.sources) {
    auto [source, epoch] = SplitKey(key);
    all.Add(s);
    std::printf(
        "%-*s  %-16s  %10llu  %8llu  %10llu  %10llu  %10llu\n", w, source.c_str(), epoch.c_str(),
        static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.missing),
        static_cast<unsigned long long>(s.duplicates), static_cast<unsigned long long>(s.items),
        static_cast<unsigned long long>(s.max_seq));
  }
  std::printf(
      "total: %llu received, %llu missing, %llu duplicates, %llu items, "
      "%llu malformed (%llu deliveries)\n",
      static_cast<unsigned long long>(all.received), static_cast<unsigned long long>(all.missing),
      static_cast<unsigned long long>(all.duplicates), static_cast<unsigned long long>(all.items),
      static_cast<unsigned long long>(st.malformed),
      static_cast<unsigned long long>(st.deliveries));
}

std::chrono::milliseconds Until(Clock::time_point deadline, Clock::time_point now) {
  return std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
}

}  // namespace

// Constant-initialized, so cli.cc's table may copy it during its own static initialization.
constinit const std::string_view kConsumeUsage = kUsage;

int RunConsume(VerbInput& in) {
  ConsumeFlags flags;
  if (Status s = ParseFlags(in.args, in.broker, &flags); !s.ok()) return in.UsageError(s);

  Result<std::unique_ptr<ConsumerLink>> connected = ConsumerLink::Connect(flags.consumer);
  if (!connected.ok()) {
    return VerbFailure("consume",
                       connected.status().code() == StatusCode::kInvalidArgument
                           ? daemon::kExitUsage
                           : daemon::kExitRuntime,
                       connected.status().ToString());
  }
  ConsumerLink& link = **connected;
  InterruptScope interrupts;

  const auto start = Clock::now();
  auto last_delivery = start;
  uint64_t deliveries_seen = 0;
  uint64_t items = 0;
  uint64_t envelopes = 0;
  Processed processed;
  bool timed_out = false;
  for (;;) {
    const auto now = Clock::now();
    if (g_interrupted) break;
    if (flags.count && items >= *flags.count) break;
    if (flags.timeout && now - start >= *flags.timeout) {
      timed_out = true;
      break;
    }
    if (flags.idle && now - last_delivery >= *flags.idle) break;
    // Wake at the nearest deadline, and at least every 250 ms to notice an interrupt.
    auto wait = std::chrono::milliseconds(250);
    if (flags.timeout) wait = std::min(wait, Until(start + *flags.timeout, now));
    if (flags.idle) wait = std::min(wait, Until(last_delivery + *flags.idle, now));

    Result<std::vector<Delivery>> batch = link.Poll(wait, 1024);
    if (!batch.ok()) {
      return VerbFailure("consume", daemon::kExitRuntime, batch.status().ToString());
    }
    // Any delivery counts as activity, duplicates and malformed ones too, unless a filter says
    // which ones the caller waits for (daemons' self-metrics would otherwise keep --idle away).
    const bool filtered = !flags.endpoint_glob.empty() || !flags.metric_glob.empty();
    if (!filtered && link.stats().deliveries != deliveries_seen) {
      deliveries_seen = link.stats().deliveries;
      last_delivery = Clock::now();
    }
    std::vector<Delivery> done;
    done.reserve(batch->size());
    for (Delivery& d : *batch) {
      if (flags.count && items >= *flags.count) break;  // the rest stays uncommitted for the group
      if (filtered) {
        if (!Wanted(flags, d.envelope)) {
          done.push_back(std::move(d));  // the group's, so committed, but not ours to show
          continue;
        }
        last_delivery = Clock::now();
      }
      if (flags.format == Format::kText) PrintText(d);
      if (flags.format == Format::kJson) PrintJson(d);
      items += d.items;
      processed.Add(d.envelope, d.items);
      ++envelopes;
      done.push_back(std::move(d));
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      return VerbFailure("consume", daemon::kExitRuntime,
                         "cannot write the output; not committing it");
    }
    if (Status s = link.Commit(done); !s.ok()) {
      std::fprintf(stderr, "hostwatch consume: %s\n", s.ToString().c_str());
    }
  }

  if (flags.format == Format::kSummary) {
    const transport::ConsumerStats summary = processed.Summary(link.Summary());
    if (flags.json) {
      PrintSummaryJson(summary);
    } else {
      PrintSummaryTable(summary);
    }
    std::fflush(stdout);
  } else {
    const transport::ConsumerStats& st = link.stats();
    std::fprintf(stderr,
                 "consumed %llu envelopes (%llu items); dropped %llu duplicates, %llu malformed\n",
                 static_cast<unsigned long long>(envelopes), static_cast<unsigned long long>(items),
                 static_cast<unsigned long long>(st.duplicates),
                 static_cast<unsigned long long>(st.malformed));
  }
  if (timed_out && flags.count && items < *flags.count) return 3;
  return daemon::kExitOk;
}

}  // namespace hw::cli
