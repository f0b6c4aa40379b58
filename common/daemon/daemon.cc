#include "common/daemon/daemon.h"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

#ifndef HW_VERSION
#define HW_VERSION "0.1.0"
#endif

namespace hw::daemon {

struct SignalWaiter::Impl {
  sigset_t waited;
  sigset_t previous;
  struct sigaction previous_pipe;
};

SignalWaiter::SignalWaiter() : impl_(std::make_unique<Impl>()) {
  sigemptyset(&impl_->waited);
  sigaddset(&impl_->waited, SIGTERM);
  sigaddset(&impl_->waited, SIGINT);
  sigaddset(&impl_->waited, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &impl_->waited, &impl_->previous);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, &impl_->previous_pipe);
}

SignalWaiter::~SignalWaiter() {
  pthread_sigmask(SIG_SETMASK, &impl_->previous, nullptr);
  sigaction(SIGPIPE, &impl_->previous_pipe, nullptr);
}

SignalEvent SignalWaiter::Wait(std::chrono::milliseconds timeout) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1'000'000);
  int sig = sigtimedwait(&impl_->waited, nullptr, &ts);
  if (sig == SIGTERM || sig == SIGINT) return SignalEvent::kStop;
  if (sig == SIGHUP) return SignalEvent::kReload;
  return SignalEvent::kNone;  // timeout (EAGAIN) or EINTR
}

namespace internal {

Startup ParseFlags(const std::string& name, const std::string& summary,
                   std::span<const char* const> args) {
  Startup out;
  Result<CommonFlags> flags = ParseCommonFlags(args);
  if (!flags.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), flags.status().message().c_str());
    out.done = true;
    out.exit_code = kExitUsage;
    return out;
  }
  if (flags->help) {
    std::fputs(UsageText(name, summary).c_str(), stdout);
    out.done = true;
    return out;
  }
  if (flags->version) {
    std::printf("%s %s\n", name.c_str(), HW_VERSION);
    out.done = true;
    return out;
  }
  out.flags = std::move(flags).value();
  return out;
}

int ConfigError(const std::string& name, const Status& status) {
  // One line per problem, each already "file:line: key: reason"; stderr so scripts can tell it
  // apart.
  std::fprintf(stderr, "%s: config error:\n%s\n", name.c_str(), status.message().c_str());
  return kExitUsage;
}

void ApplyLogLevelOverride(const CommonFlags& flags, LogOptions* opts) {
  if (!flags.log_level.empty()) opts->level = flags.log_level;
}

}  // namespace internal
}  // namespace hw::daemon
