// `hostwatch send` (README.md): one sample for scripts and cron jobs, published through a
// producer link and acked by the broker before we exit.
//
// The spool is a fresh directory per run (under $XDG_RUNTIME_DIR, else $TMPDIR or /tmp), removed
// at exit: a one-shot command has nothing to resume, and a fixed directory would make concurrent
// runs contend for its lock. With --spool-dir DIR the spool is kept instead, so a sample that was
// not acked is resent by the next `send --spool-dir DIR`.
#include "cli/send.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/cli_options.h"
#include "common/config/units.h"
#include "common/daemon/flags.h"
#include "common/daemon/logging.h"
#include "common/naming/naming.h"
#include "common/strings/strings.h"
#include "common/transport/producer_link.h"

namespace hw::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr std::string_view kUsage =
    "usage: hostwatch send [--broker URL] [--endpoint E] [--timeout S] [--spool-dir DIR]\n"
    "                      [--curve-key NAME --server-key FILE] METRIC VALUE [k=v ...]\n"
    "\n"
    "Publishes one sample (kind GAUGE, time now) and waits for the broker's ack.\n"
    "  --endpoint E     the host the sample describes (default: this host's name)\n"
    "  --timeout S      how long to wait for the ack (default 10; 500ms, 1m also work)\n"
    "  --spool-dir DIR  keep the spool there, so a sample not acked is resent by the next run\n"
    "                   with the same DIR (default: a temporary directory, removed at exit)\n"
    "Exit 0 when acked, 1 when the broker did not ack in time or rejected it, 2 on a usage error\n"
    "or an invalid name or value (the message names the bad part).\n";

struct SendArgs {
  std::string endpoint;
  std::string metric;
  double value = 0;
  std::vector<std::pair<std::string, std::string>> tags;
  milliseconds timeout{10000};
  std::string spool_dir;
};

Status ParseArgs(std::vector<std::string> args, SendArgs* out) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    Status err;
    std::string v;
    if (TakeFlag(args, &i, "--endpoint", &out->endpoint, &err) ||
        TakeFlag(args, &i, "--spool-dir", &out->spool_dir, &err)) {
      HW_RETURN_IF_ERROR(err);
    } else if (TakeFlag(args, &i, "--timeout", &v, &err)) {
      HW_RETURN_IF_ERROR(err);
      HW_ASSIGN_OR_RETURN(out->timeout, ParseSeconds("--timeout", v));
    } else if (args[i] == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<ptrdiff_t>(i) + 1, args.end());
      break;
    } else if (args[i].size() > 1 && args[i][0] == '-' && args[i][1] == '-') {
      return Status::InvalidArgument("unknown option \"" + args[i] + "\"");
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.size() < 2) return Status::InvalidArgument("need METRIC and VALUE");
  out->metric = positional[0];
  const std::string& value = positional[1];
  std::optional<double> parsed = strings::ParseDouble(value);
  if (!parsed) return Status::InvalidArgument("VALUE \"" + value + "\": not a number");
  out->value = *parsed;
  for (size_t i = 2; i < positional.size(); ++i) {
    const std::string& kv = positional[i];
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument("tag \"" + kv + "\": want key=value");
    }
    out->tags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (out->endpoint.empty()) out->endpoint = naming::LocalEndpoint();
  return Status::Ok();
}

// A private directory for this run's spool.
Result<fs::path> MakeTempSpoolDir() {
  std::string base;
  for (const char* var : {"XDG_RUNTIME_DIR", "TMPDIR"}) {
    const char* v = std::getenv(var);
    std::error_code ec;
    if (v != nullptr && *v != '\0' && fs::is_directory(v, ec)) {
      base = v;
      break;
    }
  }
  if (base.empty()) base = "/tmp";
  std::string tmpl = base + "/hostwatch-send-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Status::IoError("mkdtemp " + tmpl, errno);
  return fs::path(tmpl);
}

int Run(const SendArgs& a, const BrokerOptions& broker) {
  hostwatch::v1::Envelope env;
  hostwatch::v1::SampleBatch* batch = env.mutable_samples();
  batch->set_endpoint(a.endpoint);
  hostwatch::v1::Sample* s = batch->add_samples();
  s->set_metric(a.metric);
  s->set_value(a.value);
  for (const auto& [k, v] : a.tags) (*s->mutable_tags())[k] = v;
  s->set_time_ms(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  s->set_step_s(0);
  s->set_kind(hostwatch::v1::Sample::GAUGE);

  // Validated here, before any socket or spool exists, so a typo is reported at once (exit 2).
  hostwatch::v1::Envelope check = env;
  check.set_source(a.endpoint + "/cli");
  check.set_seq(1);
  if (Status st = naming::ValidateEnvelope(check); !st.ok()) {
    return VerbFailure("send", daemon::kExitUsage, st.message());
  }

  Result<transport::LinkConfig> link_config = broker.ToLinkConfig();
  if (!link_config.ok())
    return VerbFailure("send", daemon::kExitUsage, link_config.status().message());
  fs::path spool_dir = a.spool_dir;
  const bool temporary = a.spool_dir.empty();
  if (temporary) {
    Result<fs::path> dir = MakeTempSpoolDir();
    if (!dir.ok()) return VerbFailure("send", daemon::kExitRuntime, dir.status().message());
    spool_dir = *dir;
  }
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup{temporary ? spool_dir : fs::path()};

  transport::ProducerOptions options;
  options.endpoint = a.endpoint;
  options.component = "cli";
  options.link = *link_config;
  options.link.spool_dir = spool_dir.string();
  options.link.spool_max_bytes = 16u << 20;  // one sample (and whatever an earlier run left)
  Result<std::unique_ptr<transport::ProducerLink>> link = transport::ProducerLink::Start(options);
  if (!link.ok()) {
    return VerbFailure("send",
                       link.status().code() == StatusCode::kInvalidArgument ? daemon::kExitUsage
                                                                            : daemon::kExitRuntime,
                       link.status().message());
  }
  if (Status st = (*link)->Publish(env); !st.ok()) {
    return VerbFailure(
        "send",
        st.code() == StatusCode::kInvalidArgument ? daemon::kExitUsage : daemon::kExitRuntime,
        st.message());
  }
  const bool acked = (*link)->WaitAcked(a.timeout);
  const transport::ProducerStats stats = (*link)->stats();
  (*link)->Stop(milliseconds(0));
  if (!acked) {
    std::string msg = "no ack from " + stats.broker + " within " +
                      config::FormatDuration(a.timeout) + " (is the broker running?)";
    if (!temporary) msg += "; the sample stays in " + spool_dir.string() + " for the next run";
    return VerbFailure("send", daemon::kExitRuntime, msg);
  }
  if (stats.rejected > 0) {
    return VerbFailure("send", daemon::kExitRuntime,
                       "the broker rejected the sample (its reason is logged above)");
  }
  return daemon::kExitOk;
}

}  // namespace

// Constant-initialized, so cli.cc's table may copy it during its own static initialization.
constinit const std::string_view kSendUsage = kUsage;

int RunSend(VerbInput& in) {
  SendArgs send;
  if (Status st = ParseArgs(std::move(in.args), &send); !st.ok()) return in.UsageError(st);
  return Run(send, in.broker);
}

}  // namespace hw::cli
