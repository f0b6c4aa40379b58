#include "common/testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>

extern char** environ;

namespace hw::testing {
namespace {

// What the child reports through the close-on-exec pipe when it cannot reach exec.
struct ChildFailure {
  int stage;
  int err;
};
enum Stage : int { kStdin, kStdout, kStderr, kChdir, kExec, kParentGone };

const char* StageName(int stage) {
  switch (stage) {
    case kStdin:
      return "open /dev/null for stdin";
    case kStdout:
      return "open stdout_path";
    case kStderr:
      return "open stderr_path";
    case kChdir:
      return "chdir";
    case kExec:
      return "exec";
    case kParentGone:
      return "parent exited during start";
  }
  return "start";
}

// The inherited environment with env_extra applied ("K=V" replaces an inherited K).
std::vector<std::string> BuildEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool overridden = std::any_of(extra.begin(), extra.end(), [key](const std::string& x) {
      return std::string_view(x).substr(0, x.find('=')) == key;
    });
    if (!overridden) env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void ChildFail(int report_fd, int stage) {
  ChildFailure failure{stage, errno};
  ssize_t ignored = ::write(report_fd, &failure, sizeof failure);
  (void)ignored;
  ::_exit(127);
}

// Everything the child needs, prepared before fork: after fork the child may only make
// async-signal-safe calls (another thread of the parent may have held malloc's lock), so no
// std::string or std::filesystem work happens there.
struct ChildPlan {
  char** argv;
  char** envp;
  const char* cwd;       // null: stay
  const char* out_path;  // null: inherit (or out_fd)
  const char* err_path;  // null: inherit (or err_fd); equal to out_path: share stdout's file
  int out_fd;            // >= 0: use this for stdout (RunCommand's pipe)
  int err_fd;
  bool new_process_group;
  bool kill_with_parent;
  pid_t parent;
  int report_fd;
};

[[noreturn]] void ExecChild(const ChildPlan& plan) {
  const int report = plan.report_fd;
  if (plan.kill_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died between fork and prctl; then nobody would ever stop us.
    if (::getppid() != plan.parent) {
      errno = ESRCH;
      ChildFail(report, kParentGone);
    }
  }
  if (plan.new_process_group) ::setpgid(0, 0);

  // Ignored signals and the blocked mask survive exec; a server must start with defaults.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // O_CLOEXEC everywhere: dup2 clears it on the target, and the originals must not leak.
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || ::dup2(devnull, STDIN_FILENO) < 0) ChildFail(report, kStdin);
  const int kFlags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  int out_fd = plan.out_fd;
  if (out_fd < 0 && plan.out_path != nullptr) {
    out_fd = ::open(plan.out_path, kFlags, 0644);
    if (out_fd < 0) ChildFail(report, kStdout);
  }
  if (out_fd >= 0 && ::dup2(out_fd, STDOUT_FILENO) < 0) ChildFail(report, kStdout);
  int err_fd = plan.err_fd;
  if (err_fd < 0 && plan.err_path != nullptr) {
    if (plan.err_path == plan.out_path) {
      err_fd = STDOUT_FILENO;  // one file description, so the two streams interleave, not overwrite
    } else {
      err_fd = ::open(plan.err_path, kFlags, 0644);
      if (err_fd < 0) ChildFail(report, kStderr);
    }
  }
  if (err_fd >= 0 && ::dup2(err_fd, STDERR_FILENO) < 0) ChildFail(report, kStderr);

  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) ChildFail(report, kChdir);

  // Keep the test's own descriptors (sockets, pipes of other children) out of the server.
  // Best effort: needs Linux 5.11; older kernels leak them, which only costs tidiness.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

  ::execvpe(plan.argv[0], plan.argv, plan.envp);
  ChildFail(report, kExec);
}

// Forks and execs; out_fd/err_fd (when >= 0) override the paths in opts.
Result<pid_t> Spawn(const SubprocessOptions& opts, int out_fd, int err_fd) {
  if (opts.argv.empty() || opts.argv[0].empty()) {
    return Status::InvalidArgument("Subprocess: empty argv");
  }
  std::vector<std::string> args = opts.argv;
  std::vector<std::string> env = BuildEnv(opts.env_extra);
  std::vector<char*> argv = CStrings(args);
  std::vector<char*> envp = CStrings(env);
  auto or_null = [](const std::filesystem::path& p) { return p.empty() ? nullptr : p.c_str(); };
  ChildPlan plan{};
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = or_null(opts.cwd);
  plan.out_path = or_null(opts.stdout_path);
  plan.err_path = or_null(opts.stderr_path);
  if (plan.err_path != nullptr && opts.stderr_path == opts.stdout_path) {
    plan.err_path = plan.out_path;
  }
  plan.out_fd = out_fd;
  plan.err_fd = err_fd;
  plan.new_process_group = opts.new_process_group;
  plan.kill_with_parent = opts.kill_with_parent;
  plan.parent = ::getpid();

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return Status::IoError("pipe2", errno);
  plan.report_fd = report[1];
  const pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return Status::IoError("fork", err);
  }
  if (pid == 0) ExecChild(plan);
  ::close(report[1]);
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == 0) return pid;  // the pipe closed on exec: the program is running

  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string what = std::string(StageName(failure.stage)) + " for " + opts.argv[0];
  if (n != static_cast<ssize_t>(sizeof failure)) {
    return Status::Internal(what + ": short report from the child");
  }
  Status io = Status::IoError(what, failure.err);
  if (failure.stage == kExec && failure.err == ENOENT) return Status::NotFound(io.message());
  return io;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Result<Subprocess> Subprocess::Start(SubprocessOptions options) {
  HW_ASSIGN_OR_RETURN(pid_t pid, Spawn(options, -1, -1));
  return Subprocess(pid);
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(other.pid_), exit_status_(other.exit_status_) {
  other.pid_ = -1;
  other.exit_status_.reset();
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_status_) Stop();
    pid_ = other.pid_;
    exit_status_ = other.exit_status_;
    other.pid_ = -1;
    other.exit_status_.reset();
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exit_status_) Stop();
}

bool Subprocess::Reap(bool block) {
  if (pid_ <= 0) return true;
  if (exit_status_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_status_ = DecodeWaitStatus(status);
    return true;
  }
  if (r < 0) {
    // ECHILD: reaped elsewhere (SIGCHLD ignored, or a stray waitpid(-1)). It is gone either way.
    exit_status_ = -1;
    return true;
  }
  return false;
}

bool Subprocess::Running() { return !Reap(false); }

void Subprocess::Signal(int sig) {
  // Unreaped means the PID is still ours (a zombie keeps it), so this cannot hit a stranger.
  if (pid_ > 0 && !exit_status_) ::kill(pid_, sig);
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  // Short polls first: most children we stop exit within a few milliseconds.
  auto poll = std::chrono::milliseconds(1);
  while (!Reap(false)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return std::nullopt;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll, end - now));
    poll = std::min(poll * 2, std::chrono::milliseconds(20));
  }
  return exit_status_;
}

int Subprocess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (!exit_status_) {
    Signal(SIGTERM);
    if (!Wait(grace)) {
      Signal(SIGKILL);
      Reap(true);
    }
  }
  return *exit_status_;
}

Result<int> RunCommand(std::vector<std::string> argv, std::string* output,
                       std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Status::IoError("pipe2", errno);
  SubprocessOptions opts;
  opts.argv = std::move(argv);
  Result<pid_t> pid = Spawn(opts, pipefd[1], pipefd[1]);
  ::close(pipefd[1]);
  if (!pid.ok()) {
    ::close(pipefd[0]);
    return pid.status();
  }
  Subprocess child(*pid);
  if (output != nullptr) output->clear();

  // Read until EOF. A grandchild that inherited the pipe can hold it open after the command has
  // exited, so once the command is gone only what is already buffered is read.
  char buf[16384];
  bool timed_out = false;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) {
      timed_out = true;
      break;
    }
    const bool exited = !child.Running();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - now);
    pollfd pfd{pipefd[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, exited ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 50)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      if (exited) break;
      continue;
    }
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF (or a read error: nothing more can come)
    if (output != nullptr) output->append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);

  const auto now = std::chrono::steady_clock::now();
  std::optional<int> code;
  if (!timed_out) {
    code = child.Wait(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max<std::chrono::steady_clock::duration>(end - now, {})));
  }
  if (!code) {
    child.Signal(SIGKILL);
    child.Reap(true);
    return Status::DeadlineExceeded(opts.argv[0] + " did not finish within " +
                                    std::to_string(timeout.count()) + " ms");
  }
  return *code;
}

}  // namespace hw::testing
