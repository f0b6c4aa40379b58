// The life of every hostwatch daemon, written once: flags -> config -> logging -> service -> run
// until a signal. A daemon's main.cc fills a DaemonSpec and calls RunDaemon (envoy's "source/exe
// only wires" rule); all logic lives in the daemon's library where tests can reach it.
//
// Threads: RunDaemon runs on the main thread and blocks SIGTERM, SIGINT and SIGHUP there before the
// service starts any thread, so every thread inherits the mask and only the main thread takes them
// (synchronously, via sigtimedwait: no async-signal-safety traps). Service methods are called from
// the main thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "common/daemon/flags.h"
#include "common/daemon/logging.h"
#include "common/daemon/sd_notify.h"
#include "common/status/status.h"

namespace hw::daemon {

// What a daemon runs. Owns its threads and sockets.
template <typename Config>
class Service {
 public:
  virtual ~Service() = default;
  // Binds, recovers state, starts threads; returns once the service is working (READY=1 follows).
  virtual Status Start() = 0;
  // SIGHUP with a new, already validated config. An error keeps the old config (and is logged).
  virtual Status Reload(const Config& config) = 0;
  // SIGTERM/SIGINT: flush, commit, save state, join threads. Must return.
  virtual void Stop() = 0;
  // Polled every HealthInterval(); an error is a fatal runtime failure (exit 1 after Stop()).
  virtual Status Health() { return Status::Ok(); }
  // How often the main thread wakes to call Health() (and no less often than the systemd
  // watchdog needs). A service without a health check of its own says so with a long interval:
  // on a VM each wake of an otherwise idle thread costs ~0.1 ms of CPU, a tenth of the
  // collector's own use at a 1 s interval. Signals are waited for in the same call and are
  // handled at once whatever the interval.
  virtual std::chrono::milliseconds HealthInterval() const { return std::chrono::seconds(1); }
};

template <typename Config>
struct DaemonSpec {
  std::string name;     // "hostwatch-broker": the logger name and the program in --help
  std::string summary;  // one paragraph for --help
  // Loads and validates the config file at path; an empty path means the built-in defaults.
  // Errors name the file, line and key (common/config does that).
  std::function<Result<Config>(const std::string& path)> load;
  // The effective config as YAML, for --check-config. Never prints secrets.
  std::function<std::string(const Config&)> describe;
  std::function<LogOptions(const Config&)> log_options;
  std::function<Result<std::unique_ptr<Service<Config>>>(const Config&)> create;
};

enum class SignalEvent { kNone, kStop, kReload };

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in threads it starts later) and
// waits for them synchronously. Also ignores SIGPIPE: a peer closing a socket is an error value,
// never a process kill.
class SignalWaiter {
 public:
  SignalWaiter();
  ~SignalWaiter();  // restores the previous mask
  SignalWaiter(const SignalWaiter&) = delete;
  SignalWaiter& operator=(const SignalWaiter&) = delete;
  SignalEvent Wait(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Non-template pieces of RunDaemon, in daemon.cc.
namespace internal {
struct Startup {
  bool done = false;  // true: exit with exit_code now (help, version, usage or config error)
  int exit_code = kExitOk;
  CommonFlags flags;
};
Startup ParseFlags(const std::string& name, const std::string& summary,
                   std::span<const char* const> args);
// Prints a config error and returns kExitUsage.
int ConfigError(const std::string& name, const Status& status);
void ApplyLogLevelOverride(const CommonFlags& flags, LogOptions* opts);
}  // namespace internal

template <typename Config>
int RunDaemon(const DaemonSpec<Config>& spec, int argc, const char* const* argv) {
  internal::Startup startup = internal::ParseFlags(
      spec.name, spec.summary, std::span<const char* const>(argv + 1, argc > 0 ? argc - 1 : 0));
  if (startup.done) return startup.exit_code;
  const CommonFlags& flags = startup.flags;

  Result<Config> config = spec.load(flags.config_path);
  if (!config.ok()) return internal::ConfigError(spec.name, config.status());
  if (flags.check_config) {
    std::fputs(spec.describe(*config).c_str(), stdout);
    return kExitOk;
  }

  LogOptions log = spec.log_options(*config);
  internal::ApplyLogLevelOverride(flags, &log);
  if (Status s = SetupLogging(spec.name, log); !s.ok()) return internal::ConfigError(spec.name, s);

  SignalWaiter signals;  // before any thread exists
  Result<std::unique_ptr<Service<Config>>> created = spec.create(*config);
  if (!created.ok()) {
    spdlog::critical("cannot create service: {}", created.status().ToString());
    return created.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRuntime;
  }
  std::unique_ptr<Service<Config>> service = std::move(created).value();
  if (Status s = service->Start(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    service->Stop();
    return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRuntime;
  }

  const SdNotifier notifier = SdNotifier::FromEnvironment();
  if (Status s = notifier.Notify("READY=1"); !s.ok()) spdlog::warn("{}", s.ToString());
  spdlog::info("{} started (config: {})", spec.name,
               flags.config_path.empty() ? std::string("built-in defaults") : flags.config_path);

  const auto watchdog = notifier.WatchdogPingInterval();
  const std::chrono::milliseconds health_interval = service->HealthInterval();
  const auto tick = watchdog ? std::min(*watchdog, health_interval) : health_interval;
  int exit_code = kExitOk;
  for (;;) {
    SignalEvent ev = signals.Wait(tick);
    if (ev == SignalEvent::kStop) {
      spdlog::info("stopping on signal");
      break;
    }
    if (ev == SignalEvent::kReload) {
      (void)notifier.Notify("RELOADING=1");
      Result<Config> next = spec.load(flags.config_path);
      if (!next.ok()) {
        spdlog::error("reload: keeping the running config: {}", next.status().message());
      } else if (Status s = service->Reload(*next); !s.ok()) {
        spdlog::error("reload: keeping the running config: {}", s.ToString());
      } else {
        LogOptions next_log = spec.log_options(*next);
        internal::ApplyLogLevelOverride(flags, &next_log);
        if (Status ls = SetupLogging(spec.name, next_log); !ls.ok())
          spdlog::error("{}", ls.ToString());
        spdlog::info("reloaded {}",
                     flags.config_path.empty() ? "built-in defaults" : flags.config_path);
      }
      (void)notifier.Notify("READY=1");
    }
    if (watchdog) (void)notifier.Notify("WATCHDOG=1");
    if (Status h = service->Health(); !h.ok()) {
      spdlog::critical("runtime failure: {}", h.ToString());
      exit_code = kExitRuntime;
      break;
    }
  }
  (void)notifier.Notify("STOPPING=1");
  service->Stop();
  spdlog::info("{} stopped", spec.name);
  spdlog::default_logger()->flush();
  return exit_code;
}

}  // namespace hw::daemon
