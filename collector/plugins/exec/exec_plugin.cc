#include "collector/plugins/exec/exec_plugin.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include "common/base/clock.h"
#include "common/daemon/logging.h"
#include "common/naming/naming.h"

extern char** environ;

namespace hw::collector {
namespace {

using std::chrono::milliseconds;

constexpr size_t kMaxStderrBytes = 4096;  // enough for the first complaint of a failing script
constexpr int64_t kDefaultMaxTimeoutMs = 10000;

// An fd closed exactly once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// One run of one command.
struct Run {
  pid_t pid = -1;  // also the process group id
  Fd pidfd;        // readable when the child exits; invalid on kernels before 5.3
  Fd out, err;
  std::string stdout_text, stderr_text;
  bool capped = false;  // output exceeded max_output_bytes
  int64_t tick_ms = 0;  // the aligned wall time this run belongs to
  int64_t deadline_mono = 0;
  int64_t kill_at_mono = 0;  // SIGKILL time once SIGTERM has been sent; 0 before
  bool killed = false;
  bool timed_out = false;
};

struct Job {
  ExecCommand cmd;
  int64_t interval_ms = 0;
  int64_t timeout_ms = 0;
  int64_t next_ms = 0;
  std::optional<Run> run;
  daemon::RepeatLimiter failure_log{std::chrono::minutes(1)};
  std::atomic<uint64_t> runs{0}, failures{0}, timeouts{0}, overruns{0};
};

class ExecPlugin : public Plugin {
 public:
  ExecPlugin(const ExecOptions& options, int64_t plugin_interval_ms) : options_(options) {
    for (const ExecCommand& c : options.commands) {
      auto job = std::make_unique<Job>();
      job->cmd = c;
      job->interval_ms = c.interval.count() > 0 ? c.interval.count() : plugin_interval_ms;
      job->timeout_ms = c.timeout.count() > 0
                            ? c.timeout.count()
                            : std::min<int64_t>(job->interval_ms, kDefaultMaxTimeoutMs);
      jobs_.push_back(std::move(job));
    }
  }
  ~ExecPlugin() override { Stop(); }

  Status Start(PointSink* sink) override {
    sink_ = sink;
    if (jobs_.empty()) return Status::Ok();  // nothing to run: no thread
    wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_.valid()) return Status::IoError("eventfd", errno);
    const int64_t now = RealClock().WallMs();
    for (auto& job : jobs_) job->next_ms = NextAligned(now, job->interval_ms);
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  Status Collect(const CollectTime&, std::vector<Point>*) override { return Status::Ok(); }
  bool self_scheduled() const override { return true; }

  void Stop() override {
    if (!thread_.joinable()) return;
    stop_.store(true);
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
    thread_.join();
  }

  void SelfMetrics(std::vector<Point>* out) override {
    for (const auto& job : jobs_) {
      const Tags tags = {{"plugin", "exec"}, {"command", job->cmd.name}};
      auto counter = [&](const char* metric, const std::atomic<uint64_t>& v) {
        Emit(out, metric, static_cast<double>(v.load(std::memory_order_relaxed)), tags);
        out->back().counter = true;
      };
      counter("hostwatch.collector.exec_runs", job->runs);
      counter("hostwatch.collector.exec_failures", job->failures);
      counter("hostwatch.collector.exec_timeouts", job->timeouts);
      counter("hostwatch.collector.overruns", job->overruns);
    }
  }

 private:
  void Loop() {
    while (!stop_.load()) {
      const int64_t wall = RealClock().WallMs();
      const int64_t mono = RealClock().MonoMs();
      int64_t wait_ms = 1000;
      for (auto& job : jobs_) {
        if (wall >= job->next_ms) {
          if (job->run) {
            // Still running from an earlier tick: never two at once.
            job->overruns.fetch_add(1, std::memory_order_relaxed);
          } else {
            Spawn(job.get(), job->next_ms, mono);
          }
          job->next_ms = NextAligned(wall, job->interval_ms);
        } else if (job->next_ms - wall > job->interval_ms) {
          job->next_ms = NextAligned(wall, job->interval_ms);  // the wall clock was set back
        }
        wait_ms = std::min(wait_ms, job->next_ms - wall);
        if (job->run) EnforceTimeout(job.get(), mono, &wait_ms);
      }
      PollOnce(std::max<int64_t>(wait_ms, 0));
    }
    // Shutting down: nothing may outlive us.
    for (auto& job : jobs_) {
      if (!job->run) continue;
      ::kill(-job->run->pid, SIGKILL);
      int status = 0;
      while (::waitpid(job->run->pid, &status, 0) < 0 && errno == EINTR) {
      }
      job->run.reset();
    }
  }

  void EnforceTimeout(Job* job, int64_t mono, int64_t* wait_ms) {
    Run& r = *job->run;
    if (r.kill_at_mono == 0) {
      if (mono >= r.deadline_mono) {
        r.timed_out = true;
        ::kill(-r.pid, SIGTERM);
        r.kill_at_mono = mono + options_.kill_grace.count();
      } else {
        *wait_ms = std::min(*wait_ms, r.deadline_mono - mono);
        return;
      }
    }
    if (!r.killed && mono >= r.kill_at_mono) {
      ::kill(-r.pid, SIGKILL);
      r.killed = true;
    }
    if (!r.killed) *wait_ms = std::min(*wait_ms, r.kill_at_mono - mono);
  }

  void Spawn(Job* job, int64_t tick_ms, int64_t mono) {
    job->runs.fetch_add(1, std::memory_order_relaxed);
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      Fail(job, tick_ms, Status::IoError("pipe", errno).ToString());
      return;
    }
    Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      Fail(job, tick_ms, Status::IoError("pipe", errno).ToString());
      return;
    }
    Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
    // The child's ends must block: a script's `echo` must not see EAGAIN.
    ::fcntl(out_w.get(), F_SETFL, 0);
    ::fcntl(err_w.get(), F_SETFL, 0);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Belt and braces: descriptors opened by libraries without O_CLOEXEC stay ours.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    std::string sh = "/bin/sh", dash_c = "-c", command = job->cmd.command;
    char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      Fail(job, tick_ms, Status::IoError("posix_spawn /bin/sh", rc).ToString());
      return;
    }
    Run& r = job->run.emplace();
    r.pid = pid;
    r.pidfd = Fd(PidfdOpen(pid));
    r.out = std::move(out_r);
    r.err = std::move(err_r);
    r.tick_ms = tick_ms;
    r.deadline_mono = mono + job->timeout_ms;
  }

  // Reads what is there without blocking; false at EOF or on error (the fd is then closed).
  static void Drain(Fd* fd, std::string* buf, size_t cap, bool* capped) {
    char chunk[4096];
    while (fd->valid()) {
      const ssize_t n = ::read(fd->get(), chunk, sizeof(chunk));
      if (n > 0) {
        const size_t room = cap - std::min(cap, buf->size());
        buf->append(chunk, std::min(room, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) > room) {
          if (capped) *capped = true;
          fd->Reset();  // the writer gets EPIPE; we stop paying for its output
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      fd->Reset();  // EOF or error
    }
  }

  void PollOnce(int64_t timeout_ms) {
    std::vector<pollfd> fds;
    fds.push_back({wake_.get(), POLLIN, 0});
    bool need_waitpid_poll = false;
    for (auto& job : jobs_) {
      if (!job->run) continue;
      Run& r = *job->run;
      if (r.out.valid()) fds.push_back({r.out.get(), POLLIN, 0});
      if (r.err.valid()) fds.push_back({r.err.get(), POLLIN, 0});
      if (r.pidfd.valid()) {
        fds.push_back({r.pidfd.get(), POLLIN, 0});
      } else {
        need_waitpid_poll = true;
      }
    }
    // Without pidfds, exits are found by polling waitpid.
    if (need_waitpid_poll) timeout_ms = std::min<int64_t>(timeout_ms, 50);
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(timeout_ms));
    if (n < 0 && errno != EINTR) {
      spdlog::error("exec: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t v = 0;
      (void)!::read(wake_.get(), &v, sizeof(v));
    }
    for (auto& job : jobs_) {
      if (!job->run) continue;
      Run& r = *job->run;
      Drain(&r.out, &r.stdout_text, options_.max_output_bytes, &r.capped);
      Drain(&r.err, &r.stderr_text, kMaxStderrBytes, nullptr);
      int status = 0;
      const pid_t done = ::waitpid(r.pid, &status, WNOHANG);
      if (done == r.pid) Finish(job.get(), status);
    }
  }

  void Finish(Job* job, int status) {
    Run& r = *job->run;
    // What the child wrote before exiting is still in the pipe; a grandchild that keeps the pipe
    // open must not hold us, so read what is buffered and stop.
    Drain(&r.out, &r.stdout_text, options_.max_output_bytes, &r.capped);
    Drain(&r.err, &r.stderr_text, kMaxStderrBytes, nullptr);
    std::string problem;
    if (r.timed_out) {
      job->timeouts.fetch_add(1, std::memory_order_relaxed);
      problem = "timed out after " + std::to_string(job->timeout_ms) + "ms, process group killed";
    } else if (WIFSIGNALED(status)) {
      problem = std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
      problem = "exit status " + std::to_string(WEXITSTATUS(status));
    }
    if (r.capped && problem.empty()) {
      problem = "output exceeded " + std::to_string(options_.max_output_bytes) + " bytes";
    }
    std::vector<Point> points;
    if (!r.timed_out) {
      ExecParseResult parsed = ParseExecOutput(r.stdout_text, job->cmd.format, r.tick_ms);
      if (!parsed.errors.empty() && problem.empty()) {
        problem = std::to_string(parsed.errors.size()) +
                  " bad output line(s), first: " + parsed.errors.front();
      }
      points = std::move(parsed.points);
    }
    if (!problem.empty()) {
      job->failures.fetch_add(1, std::memory_order_relaxed);
      if (auto n = job->failure_log.Allow()) {
        const std::string err = r.stderr_text.substr(0, r.stderr_text.find('\n'));
        spdlog::warn("exec {}: {}{}{} ({} more since)", job->cmd.name, problem,
                     err.empty() ? "" : "; stderr: ", err, *n);
      }
    }
    Emit(&points, "exec.ok", problem.empty() ? 1 : 0, {{"command", job->cmd.name}});
    points.back().time_ms = r.tick_ms;
    const uint32_t step_s = static_cast<uint32_t>(std::max<int64_t>(1, job->interval_ms / 1000));
    for (Point& p : points) p.step_s = step_s;
    job->run.reset();
    sink_->Submit(std::move(points));
  }

  // A run that could not even start: exec.ok 0, logged.
  void Fail(Job* job, int64_t tick_ms, const std::string& why) {
    job->failures.fetch_add(1, std::memory_order_relaxed);
    if (auto n = job->failure_log.Allow()) {
      spdlog::error("exec {}: {} ({} more since)", job->cmd.name, why, *n);
    }
    std::vector<Point> points;
    Emit(&points, "exec.ok", 0, {{"command", job->cmd.name}});
    points.back().time_ms = tick_ms;
    points.back().step_s = static_cast<uint32_t>(std::max<int64_t>(1, job->interval_ms / 1000));
    sink_->Submit(std::move(points));
  }

  const ExecOptions options_;
  std::vector<std::unique_ptr<Job>> jobs_;  // exec thread only after Start (counters: atomics)
  PointSink* sink_ = nullptr;
  Fd wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

void ExecOptions::Describe(config::YamlWriter* w) const {
  w->Size("max_output_bytes", max_output_bytes);
  w->Value("kill_grace", kill_grace);
  // YamlWriter has no list-of-maps form yet, so commands print as a map keyed by name: readable,
  // but not loadable as is. Nothing is printed for the default (no commands).
  if (commands.empty()) return;
  w->BeginMap("commands");
  for (const ExecCommand& c : commands) {
    w->BeginMap(c.name)
        .Value("command", c.command)
        .Value("interval", c.interval)
        .Value("timeout", c.timeout)
        .Value("format", c.format == ExecFormat::kJson ? "json" : "lines")
        .EndMap();
  }
  w->EndMap();
}

std::shared_ptr<const PluginOptions> ReadExecOptions(config::Section& section) {
  auto o = std::make_shared<ExecOptions>();
  section.ReadSize("max_output_bytes", &o->max_output_bytes);
  section.Check(o->max_output_bytes >= 1024 && o->max_output_bytes <= (16u << 20),
                "max_output_bytes", "must be 1KiB-16MiB");
  section.Read("kill_grace", &o->kill_grace);
  section.Check(o->kill_grace >= milliseconds(10) && o->kill_grace <= std::chrono::minutes(1),
                "kill_grace", "must be 10ms-1m");
  std::set<std::string> names;
  for (config::Section& cs : section.List("commands")) {
    ExecCommand c;
    cs.Read("name", &c.name);
    if (Status s = naming::ValidateTagValue(c.name); !s.ok()) {
      cs.Error("name", "must be a valid tag value: " + s.message());
    } else if (!names.insert(c.name).second) {
      cs.Error("name", "\"" + c.name + "\" is used by another command");
    }
    cs.Read("command", &c.command);
    cs.Check(!c.command.empty(), "command", "is required");
    cs.Read("interval", &c.interval);
    cs.Check(c.interval.count() == 0 || c.interval >= std::chrono::seconds(1), "interval",
             "must be at least 1s");
    cs.Read("timeout", &c.timeout);
    cs.Check(c.timeout.count() == 0 || c.timeout >= milliseconds(10), "timeout",
             "must be at least 10ms");
    cs.Check(c.interval.count() == 0 || c.timeout <= c.interval, "timeout",
             "must not exceed the command's interval");
    std::string format = "lines";
    cs.ReadEnum("format", &format, {"lines", "json"});
    c.format = format == "json" ? ExecFormat::kJson : ExecFormat::kLines;
    o->commands.push_back(std::move(c));
  }
  return o;
}

Result<std::unique_ptr<Plugin>> CreateExecPlugin(const PluginSetup& setup) {
  static const ExecOptions kDefaults;
  const auto* o = setup.options ? static_cast<const ExecOptions*>(setup.options) : &kDefaults;
  for (const ExecCommand& c : o->commands) {
    if (c.interval.count() == 0 && c.timeout.count() > setup.interval_ms) {
      return Status::InvalidArgument("exec command " + c.name + ": timeout exceeds the interval");
    }
  }
  return std::unique_ptr<Plugin>(std::make_unique<ExecPlugin>(*o, setup.interval_ms));
}

}  // namespace hw::collector
