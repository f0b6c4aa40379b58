// Test-only: child processes owned by a test, stopped by their own PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status/status.h"

namespace hw::testing {

struct SubprocessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  // "K=V", added to (or replacing K in) the inherited environment.
  std::vector<std::string> env_extra;
  std::filesystem::path cwd;  // empty: the parent's
  // Empty: inherit the parent's. Otherwise opened O_APPEND (created if missing), so a restarted
  // server keeps one log; the same path for both gives one shared file description.
  std::filesystem::path stdout_path, stderr_path;
  // Ctrl-C on the test's terminal then reaches only the test, which stops its children in order.
  bool new_process_group = true;
  // The child gets SIGKILL when the thread that started it dies, so a crashed test leaves no
  // servers behind. Linux ties this to the starting *thread*: turn it off when starting from a
  // thread that exits before the child should.
  bool kill_with_parent = true;
};

// One child process. Stdin is /dev/null; signal mask and dispositions are reset to defaults, so a
// parent that blocks SIGTERM (for signalfd) does not make its children unkillable. Signals go to
// the PID only. The child stays unreaped until Wait/Stop observes its exit, so its PID cannot be
// reused while this object may still signal it. Not thread-safe; move-only.
class Subprocess {
 public:
  // Forks and execs. An exec failure (missing binary, bad cwd, unopenable log) is returned as an
  // error, reported by the child through a close-on-exec pipe.
  static Result<Subprocess> Start(SubprocessOptions options);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Stops the child (Stop()) if it is still running.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // False once the child has exited (and then it is reaped).
  bool Running();
  // Sends sig to the child's PID; a no-op after it has been reaped.
  void Signal(int sig);
  // The exit code, or 128+signal when a signal killed it; nullopt if still running at the deadline.
  std::optional<int> Wait(std::chrono::milliseconds deadline);
  // SIGTERM, up to `grace` for it to exit, then SIGKILL. Reaps; returns the exit status as Wait.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // The status once reaped.
  std::optional<int> exit_status() const { return exit_status_; }

 private:
  friend Result<int> RunCommand(std::vector<std::string>, std::string*, std::chrono::milliseconds);
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  bool Reap(bool block);

  pid_t pid_ = -1;                  // -1 when moved from
  std::optional<int> exit_status_;  // set once reaped
};

// Runs argv to completion with stdout and stderr both captured into *output (if not null). Returns
// the exit code (128+signal if killed by one); DeadlineExceeded (after SIGKILL) past `timeout`.
Result<int> RunCommand(std::vector<std::string> argv, std::string* output,
                       std::chrono::milliseconds timeout);

}  // namespace hw::testing
