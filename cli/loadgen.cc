// `hostwatch loadgen` (README.md; the bench/ scripts use it): a simulated fleet for load tests and
// demos.
//
// H hosts "loadgen-0001"… each publish M series "load.m0001"… every interval for `duration`, in
// SampleBatch envelopes of up to --batch samples. Each simulated host has its own producer link
// (source "loadgen-NNNN/loadgen"): the validator makes a batch speak only for its source's
// endpoint, so hosts cannot share a link. A link is a thread and a socket, hence the cap of 256
// hosts per process; run several processes with --first-host for more.
//
// Live (no --rate): ticks follow the wall clock. Replay (--rate N): the window [now - duration,
// now] is published as fast as N samples/s allows (0: no cap), every timestamp in the past.
#include "cli/loadgen.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numbers>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "cli/cli_options.h"
#include "common/config/units.h"
#include "common/daemon/flags.h"
#include "common/daemon/logging.h"
#include "common/naming/sample_batch_encoder.h"
#include "common/transport/producer_link.h"

namespace hw::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint64_t kMaxHosts = 256;
constexpr milliseconds kAckGrace{60000};  // acks may take this long after the last tick

constexpr std::string_view kUsage =
    "usage: hostwatch loadgen --hosts H --metrics M --interval S --duration S [--rate N]\n"
    "                         [--batch 64] [--window W] [--first-host 1] [--spool-dir DIR] "
    "[--json]\n"
    "                         [--spread]\n"
    "                         [--broker URL] [--curve-key NAME --server-key FILE]\n"
    "\n"
    "Simulates H hosts (loadgen-0001 ...) with M series each (load.m0001 ...), one sample per "
    "series\n"
    "every S seconds for `duration` seconds: H x M x (duration / interval) samples, in batches of "
    "up to\n"
    "--batch samples per envelope.\n"
    "  --rate N         replay the window [now - duration, now] at up to N samples/s (0: no cap)\n"
    "                   instead of running live\n"
    "  --spread         live only: host k of H publishes at k/H of each interval, not all at its\n"
    "                   start, so the samples arrive at an even rate (a latency benchmark then\n"
    "                   measures the pipeline, not the queue behind a whole interval's burst)\n"
    "  --first-host K   number the hosts from K, so that several processes simulate distinct "
    "hosts\n"
    "  --spool-dir DIR  keep the spools there (default: a temporary directory, removed at exit)\n"
    "Seconds may be fractional (0.5) or a duration (500ms, 2m). Exits 0 when every sample is "
    "acked\n"
    "(within 60 s after the last sample), 1 otherwise, 2 on a usage error. Prints sent, acked, "
    "elapsed, rate.\n";

struct LoadgenArgs {
  uint64_t hosts = 0;
  uint64_t metrics = 0;
  milliseconds interval{0};
  milliseconds duration{0};
  bool replay = false;
  uint64_t rate = 0;  // replay only; 0: no cap
  uint64_t batch = 64;
  uint64_t window = 0;  // 0: the link's default
  uint64_t first_host = 1;
  std::string spool_dir;
  bool json = false;
  bool spread = false;  // live only: hosts publish at even offsets inside each interval
};

Status ParseArgs(const std::vector<std::string>& args, LoadgenArgs* out) {
  bool have_hosts = false, have_metrics = false, have_interval = false, have_duration = false;
  for (size_t i = 0; i < args.size(); ++i) {
    Status err;
    std::string v;
    auto count = [&](std::string_view flag, uint64_t* dst) -> Status {
      HW_RETURN_IF_ERROR(err);
      HW_ASSIGN_OR_RETURN(*dst, ParseCount(flag, v));
      return Status::Ok();
    };
    auto seconds = [&](std::string_view flag, milliseconds* dst) -> Status {
      HW_RETURN_IF_ERROR(err);
      HW_ASSIGN_OR_RETURN(*dst, ParseSeconds(flag, v));
      return Status::Ok();
    };
    if (TakeFlag(args, &i, "--hosts", &v, &err)) {
      HW_RETURN_IF_ERROR(count("--hosts", &out->hosts));
      have_hosts = true;
    } else if (TakeFlag(args, &i, "--metrics", &v, &err)) {
      HW_RETURN_IF_ERROR(count("--metrics", &out->metrics));
      have_metrics = true;
    } else if (TakeFlag(args, &i, "--interval", &v, &err)) {
      HW_RETURN_IF_ERROR(seconds("--interval", &out->interval));
      have_interval = true;
    } else if (TakeFlag(args, &i, "--duration", &v, &err)) {
      HW_RETURN_IF_ERROR(seconds("--duration", &out->duration));
      have_duration = true;
    } else if (TakeFlag(args, &i, "--rate", &v, &err)) {
      HW_RETURN_IF_ERROR(count("--rate", &out->rate));
      out->replay = true;
    } else if (TakeFlag(args, &i, "--batch", &v, &err)) {
      HW_RETURN_IF_ERROR(count("--batch", &out->batch));
    } else if (TakeFlag(args, &i, "--window", &v, &err)) {
      HW_RETURN_IF_ERROR(count("--window", &out->window));
    } else if (TakeFlag(args, &i, "--first-host", &v, &err)) {
      HW_RETURN_IF_ERROR(count("--first-host", &out->first_host));
    } else if (TakeFlag(args, &i, "--spool-dir", &out->spool_dir, &err)) {
      HW_RETURN_IF_ERROR(err);
    } else if (args[i] == "--json") {
      out->json = true;
    } else if (args[i] == "--spread") {
      out->spread = true;
    } else {
      return Status::InvalidArgument("unexpected argument \"" + args[i] + "\"");
    }
  }
  if (!have_hosts || !have_metrics || !have_interval || !have_duration) {
    return Status::InvalidArgument("--hosts, --metrics, --interval and --duration are required");
  }
  if (out->hosts == 0 || out->metrics == 0) {
    return Status::InvalidArgument("--hosts and --metrics must be at least 1");
  }
  if (out->hosts > kMaxHosts) {
    return Status::InvalidArgument(
        "--hosts " + std::to_string(out->hosts) + ": at most " + std::to_string(kMaxHosts) +
        " per process (each simulated host is one producer link); run several loadgen processes, "
        "e.g. --hosts 250 --first-host 1 and --hosts 250 --first-host 251");
  }
  if (out->first_host == 0 || out->first_host + out->hosts - 1 > 9999) {
    return Status::InvalidArgument("--first-host: hosts are numbered 1 to 9999");
  }
  if (out->metrics > 9999) return Status::InvalidArgument("--metrics: at most 9999");
  if (out->interval.count() <= 0) return Status::InvalidArgument("--interval must be > 0");
  if (out->spread && out->replay) {
    return Status::InvalidArgument("--spread paces a live run; --rate paces a replay: not both");
  }
  if (out->duration < out->interval) {
    return Status::InvalidArgument("--duration must be at least one --interval");
  }
  if (out->batch == 0 || out->batch > 10000) {
    return Status::InvalidArgument("--batch must be 1 to 10000");
  }
  if (out->window > 1000000) return Status::InvalidArgument("--window: at most 1000000");
  return Status::Ok();
}

std::string Numbered(std::string_view prefix, uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04llu", static_cast<unsigned long long>(n));
  return std::string(prefix) + buf;
}

Result<fs::path> MakeTempRoot() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/hostwatch-loadgen-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Status::IoError("mkdtemp " + tmpl, errno);
  return fs::path(tmpl);
}

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Host {
  std::string endpoint;
  std::unique_ptr<transport::ProducerLink> link;
};

class Loadgen {
 public:
  explicit Loadgen(const LoadgenArgs& a) : a_(a) {
    ticks_ = static_cast<uint64_t>(a.duration.count() / a.interval.count());
    per_tick_ = (a.metrics + a.batch - 1) / a.batch;
    step_s_ = static_cast<uint32_t>(std::max<int64_t>(1, (a.interval.count() + 500) / 1000));
    for (uint64_t m = 0; m < a.metrics; ++m) metric_names_.push_back(Numbered("load.m", m + 1));
    for (size_t i = 0; i < sine_.size(); ++i) {
      sine_[i] = std::sin(2 * std::numbers::pi * static_cast<double>(i) /
                          static_cast<double>(sine_.size()));
    }
  }

  Status StartLinks(const transport::LinkConfig& link, const fs::path& root) {
    for (uint64_t h = 0; h < a_.hosts; ++h) {
      Host host;
      host.endpoint = Numbered("loadgen-", a_.first_host + h);
      transport::ProducerOptions o;
      o.endpoint = host.endpoint;
      o.component = "loadgen";
      o.link = link;
      o.link.spool_dir = (root / host.endpoint).string();
      if (a_.window > 0) o.link.window = static_cast<uint32_t>(a_.window);
      // Every envelope holds the same kinds of names: the endpoint (checked by Start, as part of
      // the source), "load.mNNNN" metrics and a numeric tag, in the encoder's format, which
      // sample_batch_encoder_test proves valid. Re-checking every sample would make the generator,
      // not the broker, the bottleneck of a benchmark; the broker still checks them all.
      o.validate = false;
      HW_ASSIGN_OR_RETURN(host.link, transport::ProducerLink::Start(o));
      hosts_.push_back(std::move(host));
    }
    return Status::Ok();
  }

  // Publishes every tick; returns when all are spooled (not yet acked).
  Status Publish() {
    const Clock::time_point start = Clock::now();
    const int64_t window_start_ms = WallMs() - a_.duration.count();
    uint64_t samples = 0;
    // A long run shows its progress on a terminal (never in a pipe or a log file).
    const bool progress = isatty(STDERR_FILENO) != 0;
    Clock::time_point next_progress = start;
    const uint64_t total = ticks_ * a_.hosts * a_.metrics;
    for (uint64_t t = 0; t < ticks_; ++t) {
      if (progress && Clock::now() >= next_progress) {
        std::fprintf(
            stderr, "\rloadgen: tick %llu/%llu, %llu of %llu samples spooled (%.0f%%)  ",
            static_cast<unsigned long long>(t), static_cast<unsigned long long>(ticks_),
            static_cast<unsigned long long>(samples), static_cast<unsigned long long>(total),
            total ? 100.0 * static_cast<double>(samples) / static_cast<double>(total) : 0.0);
        next_progress = Clock::now() + std::chrono::milliseconds(250);
      }
      int64_t time_ms;
      if (a_.replay) {
        time_ms = window_start_ms + static_cast<int64_t>(t) * a_.interval.count();
      } else {
        std::this_thread::sleep_until(start + a_.interval * static_cast<int64_t>(t));
        time_ms = WallMs();
      }
      for (uint64_t h = 0; h < hosts_.size(); ++h) {
        if (a_.spread && !a_.replay && h > 0) {
          // Host h's turn: h/H of the way into this tick (the tick itself was waited for above).
          std::this_thread::sleep_until(
              start + a_.interval * static_cast<int64_t>(t) +
              std::chrono::duration_cast<Clock::duration>(a_.interval * static_cast<double>(h) /
                                                          static_cast<double>(hosts_.size())));
          time_ms = WallMs();
        }
        for (uint64_t b = 0; b < per_tick_; ++b) {
          const uint64_t first = b * a_.batch;
          const uint64_t n = std::min(a_.batch, a_.metrics - first);
          HW_RETURN_IF_ERROR(hosts_[h].link->PublishSerialized(Batch(h, t, first, n, time_ms)));
          ++envelopes_;
          samples += n;
          sent_ = samples;
          if (a_.replay && a_.rate > 0) {
            // Never ahead of rate: the n samples just sent may go out at samples / rate.
            std::this_thread::sleep_until(
                start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                            static_cast<double>(samples) / static_cast<double>(a_.rate))));
          }
        }
      }
    }
    if (progress)
      std::fprintf(stderr, "\rloadgen: all %llu samples spooled; waiting for acks%20s\n",
                   static_cast<unsigned long long>(samples), "");
    return Status::Ok();
  }

  // Waits for every link's acks until the deadline; true when all were acked.
  bool WaitAcked(Clock::time_point deadline) {
    bool all = true;
    for (Host& h : hosts_) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (!h.link->WaitAcked(std::max(left, milliseconds(0)))) all = false;
    }
    return all;
  }

  struct Totals {
    uint64_t acked = 0;                                    // samples
    uint64_t rejected = 0, spool_dropped = 0, resent = 0;  // envelopes
  };
  Totals Collect() const {
    Totals t;
    for (const Host& h : hosts_) {
      const transport::ProducerStats s = h.link->stats();
      // Links deliver in order and every tick has the same batches, so the first k acked
      // envelopes of a host are its first k batches.
      const uint64_t full = s.acked / per_tick_;
      const uint64_t rest = s.acked % per_tick_;
      t.acked += full * a_.metrics + std::min(rest * a_.batch, a_.metrics);
      t.rejected += s.rejected;
      t.spool_dropped += s.spool_dropped;
      t.resent += s.resent;
    }
    return t;
  }

  void StopLinks() {
    for (Host& h : hosts_) h.link->Stop(milliseconds(0));
  }

  uint64_t ticks() const { return ticks_; }
  uint64_t sent() const { return sent_; }
  uint64_t envelopes() const { return envelopes_; }

 private:
  // The envelope bytes for batch first/n of host h at tick t, encoded directly
  // (sample_batch_encoder.h).
  std::string Batch(uint64_t h, uint64_t t, uint64_t first, uint64_t n, int64_t time_ms) {
    encoder_.Begin(hosts_[h].endpoint);
    const std::string host_index = std::to_string(a_.first_host + h);
    for (uint64_t m = first; m < first + n; ++m) {
      // A smooth, distinct curve per series, so that charts of loadgen data look like something.
      // (A table of one period: std::sin per sample was a tenth of the generator's CPU.)
      const uint64_t phase = (a_.first_host + h) * 31 + m * 7;
      const double value = 50.0 + 40.0 * sine_[(t + phase) % sine_.size()];
      encoder_.Add(metric_names_[m], "host_index", host_index, value, time_ms, step_s_);
    }
    return encoder_.Finish();
  }

  const LoadgenArgs a_;
  uint64_t ticks_ = 0;
  uint64_t per_tick_ = 0;  // envelopes per host and tick
  uint32_t step_s_ = 1;
  std::vector<std::string> metric_names_;
  std::vector<Host> hosts_;
  naming::SampleBatchEncoder encoder_;
  std::array<double, 64> sine_{};  // one period of the curve every series follows
  uint64_t sent_ = 0;
  uint64_t envelopes_ = 0;
};

int Run(const LoadgenArgs& a, const BrokerOptions& broker) {
  Result<transport::LinkConfig> link = broker.ToLinkConfig();
  if (!link.ok()) return VerbFailure("loadgen", daemon::kExitUsage, link.status().message());
  fs::path root = a.spool_dir;
  const bool temporary = a.spool_dir.empty();
  if (temporary) {
    Result<fs::path> dir = MakeTempRoot();
    if (!dir.ok()) return VerbFailure("loadgen", daemon::kExitRuntime, dir.status().message());
    root = *dir;
  }
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup{temporary ? root : fs::path()};

  Loadgen gen(a);
  const Clock::time_point start = Clock::now();
  if (Status st = gen.StartLinks(*link, root); !st.ok()) {
    return VerbFailure(
        "loadgen",
        st.code() == StatusCode::kInvalidArgument ? daemon::kExitUsage : daemon::kExitRuntime,
        st.message());
  }
  Status published = gen.Publish();
  bool all_acked = false;
  // Live, the last tick is at about start + duration: the grace counts from the last publish.
  if (published.ok()) all_acked = gen.WaitAcked(Clock::now() + kAckGrace);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const Loadgen::Totals t = gen.Collect();
  gen.StopLinks();
  if (!published.ok()) return VerbFailure("loadgen", daemon::kExitRuntime, published.message());

  const double rate = elapsed > 0 ? static_cast<double>(t.acked) / elapsed : 0;
  if (a.json) {
    std::printf(
        "{\"hosts\": %llu, \"metrics\": %llu, \"ticks\": %llu, \"sent\": %llu, \"acked\": %llu, "
        "\"envelopes\": %llu, \"rejected\": %llu, \"spool_dropped\": %llu, \"resent\": %llu, "
        "\"elapsed_s\": %.3f, \"rate\": %.1f}\n",
        static_cast<unsigned long long>(a.hosts), static_cast<unsigned long long>(a.metrics),
        static_cast<unsigned long long>(gen.ticks()), static_cast<unsigned long long>(gen.sent()),
        static_cast<unsigned long long>(t.acked), static_cast<unsigned long long>(gen.envelopes()),
        static_cast<unsigned long long>(t.rejected),
        static_cast<unsigned long long>(t.spool_dropped), static_cast<unsigned long long>(t.resent),
        elapsed, rate);
  } else {
    std::printf(
        "%llu hosts x %llu metrics x %llu ticks: sent %llu samples in %llu envelopes, "
        "acked %llu, in %.2f s: %.0f samples/s\n",
        static_cast<unsigned long long>(a.hosts), static_cast<unsigned long long>(a.metrics),
        static_cast<unsigned long long>(gen.ticks()), static_cast<unsigned long long>(gen.sent()),
        static_cast<unsigned long long>(gen.envelopes()), static_cast<unsigned long long>(t.acked),
        elapsed, rate);
    if (t.rejected > 0 || t.spool_dropped > 0) {
      std::printf("rejected %llu envelopes, spool dropped %llu\n",
                  static_cast<unsigned long long>(t.rejected),
                  static_cast<unsigned long long>(t.spool_dropped));
    }
  }
  if (!all_acked || t.acked != gen.sent()) {
    return VerbFailure(
        "loadgen", daemon::kExitRuntime,
        all_acked ? "some envelopes were rejected or dropped"
                  : "not everything was acked within 60 s after the last sample (is the broker "
                    "running?)");
  }
  return daemon::kExitOk;
}

}  // namespace

// Constant-initialized, so cli.cc's table may copy it during its own static initialization.
constinit const std::string_view kLoadgenUsage = kUsage;

int RunLoadgen(VerbInput& in) {
  LoadgenArgs a;
  if (Status st = ParseArgs(in.args, &a); !st.ok()) return in.UsageError(st);
  return Run(a, in.broker);
}

}  // namespace hw::cli
