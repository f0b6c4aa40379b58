// `hostwatch test-alerts`: replays recorded envelopes (the lines `hostwatch consume --format json`
// prints) through an alerter config's rules and notification pipeline, on a clock that follows the
// recorded time, and prints every alert change and every notification it would hand to delivery.
// Nothing is sent, published or saved.
//
// `hostwatch silence`: edits the alerter's silences file (atomic replace); a running alerter
// re-reads it within a second.
#include "cli/test_alerts.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "alerter/alerter_sink.h"
#include "alerter/config.h"
#include "alerter/pipeline.h"
#include "alerter/silences.h"
#include "common/config/units.h"
#include "common/daemon/flags.h"

namespace hw::cli {
namespace {

namespace pb = hostwatch::v1;

constexpr std::string_view kAlertsUsage =
    "usage: hostwatch test-alerts --config alerter.yaml [--settle DURATION] FILE...\n"
    "\n"
    "Replays envelopes, one JSON object per line as `hostwatch consume --format json` prints them\n"
    "(\"-\" reads stdin), through the config's rules and notification pipeline. The clock follows\n"
    "the recorded sample times; after the last line it runs on for --settle (default: group_wait\n"
    "plus 1s) so that waiting groups are flushed. Prints every alert change and every "
    "notification\n"
    "it would send, with its receiver's addresses. Nothing is sent, published or saved; silences\n"
    "in the config's silences_file apply.\n";

constexpr std::string_view kSilenceText =
    "usage: hostwatch silence add --match k=v... --for DURATION [--comment TEXT] [--by NAME]\n"
    "       hostwatch silence list [--all]\n"
    "       hostwatch silence expire ID\n"
    "  (each takes --config alerter.yaml or --file SILENCES.yaml)\n"
    "\n"
    "Edits the alerter's silences file (alerter.silences_file, default "
    "<state_dir>/silences.yaml);\n"
    "the alerter re-reads it within a second. Matcher keys are rule, endpoint, series, severity "
    "or\n"
    "a tag of the series; values are globs (web-*). A silent alert still changes state; only its\n"
    "notifications are held back, and they come back when the silence ends or is expired.\n";

std::string IsoTime(int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string_view StateWord(pb::Alert::State s) {
  switch (s) {
    case pb::Alert::PENDING:
      return "PENDING";
    case pb::Alert::FIRING:
      return "FIRING";
    case pb::Alert::RESOLVED:
      return "RESOLVED";
    default:
      return "?";
  }
}

class PrintingDelivery : public alerter::Delivery {
 public:
  explicit PrintingDelivery(const alerter::DeliveryConfig* config) : config_(config) {}
  Status Enqueue(const alerter::Notification& n) override {
    std::string to;
    auto it = config_->receivers.find(n.receiver);
    if (it != config_->receivers.end()) {
      for (const std::string& a : it->second.email) to += (to.empty() ? "" : ", ") + a;
      if (!it->second.webhook.empty()) to += (to.empty() ? "" : ", ") + it->second.webhook;
      if (!it->second.alertmanager.empty())
        to += (to.empty() ? "" : ", ") + it->second.alertmanager;
      if (!it->second.exec.empty()) to += (to.empty() ? "" : ", ") + ("exec " + it->second.exec);
    }
    std::printf("%s NOTIFY to %s: %s", IsoTime(n.time_ms).c_str(), to.c_str(),
                alerter::DescribeNotification(n).c_str());
    ++count_;
    return Status::Ok();
  }
  void Tick(int64_t) override {}
  void Stop(std::chrono::milliseconds) override {}
  uint64_t count() const { return count_; }

 private:
  const alerter::DeliveryConfig* config_;
  uint64_t count_ = 0;
};

int64_t NewestTime(const pb::Envelope& e) {
  int64_t t = 0;
  if (e.has_samples()) {
    for (const pb::Sample& s : e.samples().samples()) t = std::max(t, s.time_ms());
  } else if (e.has_events()) {
    for (const pb::LogEvent& ev : e.events().events()) t = std::max(t, ev.time_ms());
  }
  return t > 0 ? t : e.sent_ms();
}

Result<alerter::AlerterConfig> LoadForCli(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("--config alerter.yaml is required");
  return alerter::LoadAlerterConfig(path);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

constinit const std::string_view kTestAlertsUsage = kAlertsUsage;
constinit const std::string_view kSilenceUsage = kSilenceText;

int RunTestAlerts(VerbInput& in) {
  std::string config_path, settle_text;
  std::vector<std::string> files;
  for (size_t i = 0; i < in.args.size(); ++i) {
    Status err;
    if (TakeFlag(in.args, &i, "--config", &config_path, &err) ||
        TakeFlag(in.args, &i, "--settle", &settle_text, &err)) {
      if (!err.ok()) return in.UsageError(err);
      continue;
    }
    if (in.args[i].starts_with("--")) {
      return in.UsageError(Status::InvalidArgument("unknown flag " + in.args[i]));
    }
    files.push_back(in.args[i]);
  }
  if (files.empty()) return in.UsageError(Status::InvalidArgument("want at least one FILE"));
  Result<alerter::AlerterConfig> config = LoadForCli(config_path);
  if (!config.ok()) return in.Failure(daemon::kExitUsage, config.status().message());
  int64_t settle_ms = config->pipeline.group_wait.count() + 1000;
  if (!settle_text.empty()) {
    Result<config::Duration> d = config::ParseDuration(settle_text);
    if (!d.ok()) return in.UsageError(Status::InvalidArgument("--settle: " + d.status().message()));
    settle_ms = d->count();
  }

  int64_t now = 0;
  uint64_t changes = 0;
  auto delivery = std::make_unique<PrintingDelivery>(&config->delivery);
  PrintingDelivery* printer = delivery.get();
  alerter::SinkOptions opts;
  opts.now_ms = [&now] { return now; };
  opts.publish = [&](const pb::AlertBatch& batch) {
    for (const pb::Alert& a : batch.alerts()) {
      ++changes;
      std::printf("%s %s %s (%s)\n", IsoTime(a.time_ms()).c_str(),
                  std::string(StateWord(a.state())).c_str(), a.key().c_str(), a.summary().c_str());
    }
    return Status::Ok();
  };
  alerter::AlerterSink sink(*config, std::move(delivery), opts);
  // Ticks once a recorded second, as the daemon would; a gap of more than a day jumps.
  auto advance = [&](int64_t to) {
    if (now == 0 || to - now > 24 * 3600 * 1000LL) now = to - 1000;
    while (now + 1000 <= to) {
      now += 1000;
      sink.TickAt(now);
    }
  };
  uint64_t lines = 0, bad = 0;
  for (const std::string& file : files) {
    std::ifstream f;
    std::istream* stream = &std::cin;
    if (file != "-") {
      f.open(file);
      if (!f) return in.Failure(daemon::kExitRuntime, "cannot open " + file);
      stream = &f;
    }
    std::string line;
    google::protobuf::util::JsonParseOptions popts;
    popts.ignore_unknown_fields = true;  // consume adds partition and offset
    while (std::getline(*stream, line)) {
      if (line.empty()) continue;
      ++lines;
      pb::Envelope env;
      if (!google::protobuf::util::JsonStringToMessage(line, &env, popts).ok()) {
        ++bad;
        continue;
      }
      advance(NewestTime(env));
      sink.Feed(env, now);
    }
  }
  advance(now + settle_ms);
  std::printf("%llu lines (%llu malformed), %llu alert changes, %llu notifications\n",
              static_cast<unsigned long long>(lines), static_cast<unsigned long long>(bad),
              static_cast<unsigned long long>(changes),
              static_cast<unsigned long long>(printer->count()));
  return daemon::kExitOk;
}

int RunSilence(VerbInput& in) {
  if (in.args.empty()) return in.UsageError(Status::InvalidArgument("want add, list or expire"));
  const std::string action = in.args[0];
  std::string config_path, file, for_text, comment, by;
  std::vector<std::string> matches, rest;
  bool all = false;
  for (size_t i = 1; i < in.args.size(); ++i) {
    Status err;
    std::string m;
    if (TakeFlag(in.args, &i, "--config", &config_path, &err) ||
        TakeFlag(in.args, &i, "--file", &file, &err) ||
        TakeFlag(in.args, &i, "--for", &for_text, &err) ||
        TakeFlag(in.args, &i, "--comment", &comment, &err) ||
        TakeFlag(in.args, &i, "--by", &by, &err)) {
      if (!err.ok()) return in.UsageError(err);
      continue;
    }
    if (TakeFlag(in.args, &i, "--match", &m, &err)) {
      if (!err.ok()) return in.UsageError(err);
      matches.push_back(m);
      // --match k=v k2=v2: the words after it that look like matchers belong to it.
      while (i + 1 < in.args.size() && !in.args[i + 1].starts_with("--") &&
             in.args[i + 1].find('=') != std::string::npos) {
        matches.push_back(in.args[++i]);
      }
      continue;
    }
    if (in.args[i] == "--all") {
      all = true;
    } else if (in.args[i].starts_with("--")) {
      return in.UsageError(Status::InvalidArgument("unknown flag " + in.args[i]));
    } else {
      rest.push_back(in.args[i]);
    }
  }
  if (file.empty()) {
    if (config_path.empty()) {
      return in.UsageError(Status::InvalidArgument("--config alerter.yaml or --file is required"));
    }
    Result<alerter::AlerterConfig> c = alerter::LoadAlerterConfig(config_path);
    if (!c.ok()) return in.Failure(daemon::kExitUsage, c.status().message());
    file = c->SilencesPath();
  }
  // Two operators editing at once must not lose each other's silence: read-modify-write under an
  // exclusive lock on a side file (the alerter only reads, and the replace is atomic).
  const std::string lock_path = file + ".lock";
  {
    std::error_code ec;  // the alerter may not have run yet: its state_dir may not exist
    const std::filesystem::path parent = std::filesystem::path(file).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  }
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX) != 0) {
    if (lock_fd >= 0) ::close(lock_fd);
    return in.Failure(daemon::kExitRuntime, "cannot lock " + lock_path);
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock_fd};
  Result<std::vector<alerter::Silence>> loaded = alerter::LoadSilences(file);
  if (!loaded.ok()) return in.Failure(daemon::kExitRuntime, loaded.status().message());
  std::vector<alerter::Silence> silences = std::move(loaded).value();
  const int64_t now = NowMs();

  if (action == "add") {
    if (matches.empty()) return in.UsageError(Status::InvalidArgument("--match k=v is required"));
    if (for_text.empty()) return in.UsageError(Status::InvalidArgument("--for is required"));
    Result<config::Duration> d = config::ParseDuration(for_text);
    if (!d.ok() || d->count() <= 0) {
      return in.UsageError(
          Status::InvalidArgument("--for: \"" + for_text + "\" is not a duration"));
    }
    alerter::Silence s;
    s.id = alerter::NewSilenceId();
    for (const std::string& m : matches) {
      const size_t eq = m.find('=');
      if (eq == std::string::npos || eq == 0) {
        return in.UsageError(Status::InvalidArgument("--match: \"" + m + "\" is not k=v"));
      }
      s.match[m.substr(0, eq)] = m.substr(eq + 1);
    }
    s.starts_ms = now;
    s.ends_ms = now + d->count();
    s.comment = comment;
    if (by.empty() && std::getenv("USER") != nullptr) by = std::getenv("USER");
    s.created_by = by;
    silences.push_back(s);
    if (Status st = alerter::SaveSilences(file, silences, now); !st.ok()) {
      return in.Failure(daemon::kExitRuntime, st.ToString());
    }
    std::printf("%s\n", s.id.c_str());
    return daemon::kExitOk;
  }
  if (action == "expire") {
    if (rest.size() != 1) return in.UsageError(Status::InvalidArgument("want one ID"));
    bool found = false;
    for (alerter::Silence& s : silences) {
      if (s.id == rest[0]) {
        found = true;
        if (s.ends_ms > now) s.ends_ms = now;
      }
    }
    if (!found) return in.Failure(daemon::kExitRuntime, "no silence " + rest[0] + " in " + file);
    if (Status st = alerter::SaveSilences(file, silences, now); !st.ok()) {
      return in.Failure(daemon::kExitRuntime, st.ToString());
    }
    std::printf("expired %s\n", rest[0].c_str());
    return daemon::kExitOk;
  }
  if (action == "list") {
    for (const alerter::Silence& s : silences) {
      if (!all && s.ends_ms <= now) continue;
      std::string match;
      for (const auto& [k, v] : s.match) match += (match.empty() ? "" : " ") + k + "=" + v;
      std::printf("%s  %s  until %s  %s%s%s\n", s.id.c_str(), match.c_str(),
                  IsoTime(s.ends_ms).c_str(), s.ends_ms <= now ? "(expired) " : "",
                  s.created_by.empty() ? "" : (s.created_by + ": ").c_str(), s.comment.c_str());
    }
    return daemon::kExitOk;
  }
  return in.UsageError(Status::InvalidArgument("unknown action \"" + action + "\""));
}

}  // namespace hw::cli
