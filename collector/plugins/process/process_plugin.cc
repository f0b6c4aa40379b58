#include "collector/plugins/process/process_plugin.h"

#include <fcntl.h>
#include <poll.h>
#include <re2/re2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <unordered_map>

#include "collector/proc_text.h"
#include "common/naming/naming.h"

namespace hw::collector {
namespace {

constexpr size_t kCommMax = 15;  // TASK_COMM_LEN - 1
// Open /proc/<pid>/comm files kept between scans at most (see ProcessPlugin::ReadComm).
constexpr size_t kMaxCommFds = 512;

// The fields of /proc/<pid>/stat this plugin needs (proc(5) numbering in the comments).
struct ProcStat {
  std::string comm;          // (2)
  char state = '?';          // (3): R, S, D, ..., Z a zombie, X dead
  uint64_t flags = 0;        // (9), PF_* of include/linux/sched.h
  uint64_t cpu_ticks = 0;    // utime (14) + stime (15)
  uint64_t threads = 0;      // num_threads (20)
  uint64_t start_ticks = 0;  // starttime (22), clock ticks after boot
  uint64_t rss_pages = 0;    // rss (24)
};

// comm may hold spaces and parentheses, so it ends at the *last* ')'.
std::optional<ProcStat> ParseProcStat(std::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return std::nullopt;
  ProcStat s;
  s.comm = std::string(text.substr(open + 1, close - open - 1));
  std::vector<std::string_view> f = SplitFields(Trim(text.substr(close + 1)));
  // f[0] is field (3) state, so field (n) is f[n - 3].
  if (f.size() < 22) return std::nullopt;
  auto u = [&](size_t field) { return ParseU64(f[field - 3]).value_or(0); };
  if (f[0].size() == 1) s.state = f[0][0];
  s.flags = u(9);
  s.cpu_ticks = u(14) + u(15);
  s.threads = u(20);
  s.start_ticks = u(22);
  s.rss_pages = u(24);
  return s;
}

class ProcessPlugin : public Plugin {
 public:
  ProcessPlugin(const HostEnv& env, const ProcessOptions& options)
      : env_(env),
        options_(options),
        uptime_(env, env.Proc("uptime")),
        stat_file_(env, env.Proc("stat")),
        cache_comm_fds_(env.live_procfs) {
    for (const ProcessMatcher& m : options_.matchers) {
      needs_scan_ = needs_scan_ || !m.comm.empty() || m.cmdline_re != nullptr;
      needs_cmdline_ = needs_cmdline_ || m.cmdline_re != nullptr;
    }
  }

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    struct Group {
      uint64_t count = 0, zombies = 0, rss_bytes = 0, threads = 0, fds = 0, cpu_ticks = 0;
      bool fds_known = true, cpu_known = true;
      std::optional<uint64_t> oldest_start;
    };
    std::vector<Group> groups(options_.matchers.size());
    std::unordered_map<int64_t, std::pair<uint64_t, uint64_t>> seen;  // pid -> (start, cpu ticks)

    auto account = [&](int64_t pid, const ProcStat& st, size_t g) {
      Group& grp = groups[g];
      // A process that has exited but is not yet reaped (its parent hangs, or never waits) does
      // no work: counting it as running would hide a dead server from every alert.
      if (st.state == 'Z' || st.state == 'X') {
        ++grp.zombies;
        return;
      }
      ++grp.count;
      // statm's resident count is exact; stat's rss is the kernel's per-CPU-cached approximation,
      // which can lag by hundreds of KiB (and `ps` reads the exact one).
      uint64_t rss_pages = st.rss_pages;
      if (ReadTextFileInto(env_.Proc(std::to_string(pid) + "/statm"), &statm_, env_.max_read_bytes)
              .ok()) {
        std::vector<std::string_view> f = SplitFields(statm_);
        if (f.size() >= 2) rss_pages = ParseU64(f[1]).value_or(rss_pages);
      }
      grp.rss_bytes += rss_pages * static_cast<uint64_t>(env_.page_size);
      grp.threads += st.threads;
      if (!grp.oldest_start || st.start_ticks < *grp.oldest_start)
        grp.oldest_start = st.start_ticks;
      Result<std::vector<std::string>> fds = ListDir(env_.Proc(std::to_string(pid) + "/fd"));
      if (fds.ok()) {
        grp.fds += fds->size();
      } else {
        grp.fds_known = false;
      }
      // CPU time only for processes seen (as the same process: same start time) last scan.
      auto prev = previous_.find(pid);
      if (prev != previous_.end() && prev->second.first == st.start_ticks &&
          st.cpu_ticks >= prev->second.second) {
        grp.cpu_ticks += st.cpu_ticks - prev->second.second;
      }
      seen[pid] = {st.start_ticks, st.cpu_ticks};
    };

    // Pidfile matchers look up one pid each; comm and cmdline matchers share one scan.
    for (size_t g = 0; g < options_.matchers.size(); ++g) {
      const ProcessMatcher& m = options_.matchers[g];
      if (m.pidfile.empty()) continue;
      Result<std::string> text = ReadTextFile(m.pidfile);
      std::optional<int64_t> pid = text.ok() ? ParseI64(Trim(*text)) : std::nullopt;
      if (!pid || *pid <= 0) continue;  // no pidfile, or garbage in it: not running
      if (ReadTextFileInto(env_.Proc(std::to_string(*pid) + "/stat"), &buf_, env_.max_read_bytes)
              .ok()) {
        if (auto st = ParseProcStat(buf_)) account(*pid, *st, g);
      }
    }
    if (needs_scan_) {
      HW_RETURN_IF_ERROR(UpdatePids());
      scan_generation_++;
      ForgetExitedKernelThreads();
      live_pids_.clear();
      for (const int64_t pid : pids_) {
        const std::string dir = env_.Proc(std::to_string(pid));
        // With only comm matchers, most processes are rejected on /proc/<pid>/comm, which the
        // kernel produces far more cheaply than stat (the larger part of a scan's cost).
        if (!needs_cmdline_) {
          if (!ReadComm(pid, dir)) continue;
          live_pids_.push_back(pid);
          const std::string_view comm = Trim(buf_);
          const bool any = std::any_of(
              options_.matchers.begin(), options_.matchers.end(), [&](const ProcessMatcher& m) {
                return !m.comm.empty() && comm == std::string_view(m.comm).substr(0, kCommMax);
              });
          if (!any) continue;
        }
        // A process may exit between the listing and the read: skip it quietly.
        if (!ReadTextFileInto(dir + "/stat", &buf_, env_.max_read_bytes).ok()) continue;
        if (needs_cmdline_) live_pids_.push_back(pid);
        std::optional<ProcStat> st = ParseProcStat(buf_);
        if (!st) continue;
        bool have_cmdline = false;
        for (size_t g = 0; g < options_.matchers.size(); ++g) {
          const ProcessMatcher& m = options_.matchers[g];
          bool match = false;
          if (!m.comm.empty()) {
            match = st->comm == std::string_view(m.comm).substr(0, kCommMax);
          } else if (m.cmdline_re) {
            if (!have_cmdline) {
              have_cmdline = true;
              LoadCmdline(dir + "/cmdline");
            }
            // Kernel threads have an empty cmdline; a regex like ".*" must not count them.
            match = !cmdline_.empty() && RE2::PartialMatch(cmdline_, *m.cmdline_re);
          }
          if (match) account(pid, *st, g);
        }
      }
      pids_.swap(live_pids_);
      // Descriptors of pids that are no longer listed: their processes are gone.
      for (auto it = comm_fds_.begin(); it != comm_fds_.end();) {
        if (it->second.seen == scan_generation_) {
          ++it;
        } else {
          it = comm_fds_.erase(it);
        }
      }
    }

    std::optional<double> uptime_s;
    if (uptime_.Read(&buf_).ok()) {
      std::vector<std::string_view> f = SplitFields(Trim(buf_));
      if (!f.empty()) uptime_s = ParseDouble(f[0]);
    }
    const bool have_previous = previous_mono_ms_ > 0 && now.mono_ms > previous_mono_ms_;
    const double elapsed_s = static_cast<double>(now.mono_ms - previous_mono_ms_) / 1000.0;
    for (size_t g = 0; g < groups.size(); ++g) {
      const Group& grp = groups[g];
      const Tags tags = {{"process", options_.matchers[g].name}};
      Emit(out, "proc.up", grp.count > 0 ? 1 : 0, tags);
      Emit(out, "proc.count", static_cast<double>(grp.count), tags);
      Emit(out, "proc.zombies", static_cast<double>(grp.zombies), tags);
      if (grp.count == 0) continue;
      Emit(out, "proc.rss_bytes", static_cast<double>(grp.rss_bytes), tags);
      Emit(out, "proc.threads", static_cast<double>(grp.threads), tags);
      if (grp.fds_known) Emit(out, "proc.fds", static_cast<double>(grp.fds), tags);
      if (have_previous) {
        Emit(out, "proc.cpu_percent",
             100.0 * static_cast<double>(grp.cpu_ticks) /
                 (elapsed_s * static_cast<double>(env_.clock_ticks)),
             tags);
      }
      if (uptime_s && grp.oldest_start) {
        const double age = *uptime_s - static_cast<double>(*grp.oldest_start) /
                                           static_cast<double>(env_.clock_ticks);
        Emit(out, "proc.uptime_s", std::max(0.0, age), tags);
      }
    }
    previous_ = std::move(seen);
    previous_mono_ms_ = now.mono_ms;
    return Status::Ok();
  }

 private:
  // The pids to look at this scan into pids_. /proc is listed only when a process may have been
  // created since the last listing: on a live procfs, when the count of forks since boot
  // ("processes" in /proc/stat: every fork and clone on the host, whatever its pid namespace)
  // has moved. Otherwise the processes are the last scan's minus those that have exited since,
  // which the scan's reads find (a read of an exited process's procfs file fails); a rename (an
  // exec, PR_SET_NAME) is seen because every comm, or every stat and cmdline, is read again, and
  // a reused pid needs a fork. On a quiet host that saves the listing (getdents of every pid,
  // ~10% of the collector's scheduler thread on the benchmark host); on a host that forks every
  // second it is listed every scan, as before. The counter is read before the listing, so a fork
  // after it is either listed or moves the counter for the next scan.
  Status UpdatePids() {
    std::optional<uint64_t> forks;
    if (cache_comm_fds_ && stat_file_.Read(&stat_).ok()) {
      ForEachLine(stat_, [&](std::string_view line) {
        if (line.starts_with("processes ")) forks = ParseU64(Trim(line.substr(10)));
      });
    }
    if (forks && forks == listed_forks_) return Status::Ok();
    HW_ASSIGN_OR_RETURN(std::vector<std::string> entries, ListDir(env_.proc_root));
    pids_.clear();
    for (const std::string& e : entries) {
      if (std::optional<int64_t> pid = ParseI64(e)) pids_.push_back(*pid);
    }
    listed_forks_ = forks;
    return Status::Ok();
  }

  // /proc/<pid>/comm into buf_; false when the process is gone. On a real procfs the file stays
  // open for the next scan: re-reading an open procfs file costs about a third of
  // open + read + close, which is most of a scan's CPU on a host with a few hundred processes. It
  // is safe because a procfs file belongs to the process it was opened for: once that process
  // has exited its reads fail (ESRCH), also when the pid has been reused, and the comm is then
  // opened afresh. A recorded tree (tests) is plain files, so there every scan opens them.
  // Bounded by kMaxCommFds; past it, files are opened and closed as before.
  //
  // A kernel thread never execs, so its comm is read once, when it is first seen, and kept with a
  // pidfd instead of its comm file: one poll() over all those pidfds per scan tells which have
  // exited (ForgetExitedKernelThreads), so a reused pid is never taken for the old thread. Most
  // pids of a server are kernel threads (per-CPU workers), and a kworker's comm is among the
  // costliest procfs texts to produce. A matcher on a kernel thread's comm sees the name it had
  // when first seen (a kworker's "-<workqueue>" suffix changes as it works).
  bool ReadComm(int64_t pid, const std::string& dir) {
    if (auto it = comm_fds_.find(pid); it != comm_fds_.end()) {
      if (it->second.kthread) {
        buf_ = it->second.comm;
        it->second.seen = scan_generation_;
        return true;
      }
      if (PreadWhole(it->second.fd.get(), &buf_, env_.max_read_bytes)) {
        it->second.seen = scan_generation_;
        return true;
      }
      comm_fds_.erase(it);
    }
    if (!cache_comm_fds_ || comm_fds_.size() >= kMaxCommFds) {
      return ReadTextFileInto(dir + "/comm", &buf_, env_.max_read_bytes).ok();
    }
    CommFd entry{io::UniqueFd(::open((dir + "/comm").c_str(), O_RDONLY | O_CLOEXEC)),
                 scan_generation_,
                 false,
                 {}};
    if (!entry.fd.valid() || !PreadWhole(entry.fd.get(), &buf_, env_.max_read_bytes)) return false;
    if (io::UniqueFd pidfd = KernelThreadPidfd(pid, dir, entry.fd.get()); pidfd.valid()) {
      entry.fd = std::move(pidfd);  // closes the comm file
      entry.kthread = true;
      entry.comm = buf_;
    }
    comm_fds_.emplace(pid, std::move(entry));
    return true;
  }

  // A pidfd (close-on-exec) for pid when it is a kernel thread (PF_KTHREAD), else none.
  // comm_fd is the pid's open comm file: it reads only while the thread it was opened for lives,
  // so a read after the pidfd and the stat proves both were that thread's and not a successor's.
  io::UniqueFd KernelThreadPidfd(int64_t pid, const std::string& dir, int comm_fd) {
    constexpr uint64_t kPfKthread = 0x00200000;  // include/linux/sched.h
    if (!pidfd_works_ || !ReadTextFileInto(dir + "/stat", &stat_, env_.max_read_bytes).ok())
      return {};
    std::optional<ProcStat> st = ParseProcStat(stat_);
    if (!st || (st->flags & kPfKthread) == 0) return {};
    io::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)));
    if (!pidfd.valid()) {
      if (errno == ENOSYS) pidfd_works_ = false;  // before Linux 5.3: read comm every scan
      return {};
    }
    if (!PreadWhole(comm_fd, &stat_, env_.max_read_bytes)) return {};
    return pidfd;
  }

  // Drops the kernel threads whose pidfd says they have exited (readable), with one poll().
  void ForgetExitedKernelThreads() {
    polls_.clear();
    poll_pids_.clear();
    for (const auto& [pid, c] : comm_fds_) {
      if (!c.kthread) continue;
      polls_.push_back({c.fd.get(), POLLIN, 0});
      poll_pids_.push_back(pid);
    }
    if (polls_.empty() || ::poll(polls_.data(), polls_.size(), 0) <= 0) return;
    for (size_t i = 0; i < polls_.size(); ++i) {
      if (polls_[i].revents != 0) comm_fds_.erase(poll_pids_[i]);
    }
  }

  // The command line with its NUL separators turned into spaces; empty when unreadable.
  void LoadCmdline(const std::string& path) {
    cmdline_.clear();
    if (!ReadTextFileInto(path, &cmdline_, env_.max_read_bytes).ok()) {
      cmdline_.clear();
      return;
    }
    while (!cmdline_.empty() && cmdline_.back() == '\0') cmdline_.pop_back();
    std::replace(cmdline_.begin(), cmdline_.end(), '\0', ' ');
  }

  const HostEnv env_;
  const ProcessOptions options_;
  bool needs_scan_ = false;
  bool needs_cmdline_ = false;
  ProcFile uptime_;
  ProcFile stat_file_;                    // /proc/stat, for its fork count (UpdatePids)
  std::optional<uint64_t> listed_forks_;  // the fork count read before the last listing
  std::vector<int64_t> pids_;             // the processes to read next scan
  std::vector<int64_t> live_pids_;        // those of this scan that were still there
  std::string buf_;
  std::string cmdline_;
  std::string statm_;
  std::unordered_map<int64_t, std::pair<uint64_t, uint64_t>> previous_;
  int64_t previous_mono_ms_ = 0;
  const bool cache_comm_fds_;  // proc_root is a real procfs
  struct CommFd {
    io::UniqueFd fd;       // /proc/<pid>/comm, open; a kernel thread's pidfd
    uint64_t seen;         // the last scan that listed the pid
    bool kthread = false;  // a kernel thread, whose comm is kept here
    std::string comm;
  };
  bool pidfd_works_ = true;
  std::string stat_;
  std::vector<pollfd> polls_;  // ForgetExitedKernelThreads' buffers, kept between scans
  std::vector<int64_t> poll_pids_;
  std::unordered_map<int64_t, CommFd> comm_fds_;
  uint64_t scan_generation_ = 0;
};

}  // namespace

void ProcessOptions::Describe(config::YamlWriter* w) const {
  // YamlWriter has no list-of-maps form yet, so matchers print as a map keyed by name: readable,
  // but not loadable as is. Nothing is printed for the default (no matchers).
  if (matchers.empty()) return;
  w->BeginMap("matchers");
  for (const ProcessMatcher& m : matchers) {
    w->BeginMap(m.name);
    if (!m.comm.empty()) w->Value("comm", m.comm);
    if (!m.cmdline.empty()) w->Value("cmdline", m.cmdline);
    if (!m.pidfile.empty()) w->Value("pidfile", m.pidfile);
    w->EndMap();
  }
  w->EndMap();
}

std::shared_ptr<const PluginOptions> ReadProcessOptions(config::Section& section) {
  auto o = std::make_shared<ProcessOptions>();
  std::set<std::string> names;
  for (config::Section& ms : section.List("matchers")) {
    ProcessMatcher m;
    ms.Read("name", &m.name);
    if (Status s = naming::ValidateTagValue(m.name); !s.ok()) {
      ms.Error("name", "must be a valid tag value: " + s.message());
    } else if (!names.insert(m.name).second) {
      ms.Error("name", "\"" + m.name + "\" is used by another matcher");
    }
    config::Section match = ms.Child("match");
    match.Read("comm", &m.comm);
    match.Read("cmdline", &m.cmdline);
    match.Read("pidfile", &m.pidfile);
    const int kinds = !m.comm.empty() + !m.cmdline.empty() + !m.pidfile.empty();
    if (kinds != 1) {
      ms.Error("match", "needs exactly one of comm, cmdline or pidfile");
    }
    if (!m.cmdline.empty()) {
      RE2::Options re_opts;
      re_opts.set_log_errors(false);
      // `python -c` scripts and the like put newlines into argv: `.` must cross them, since the
      // command line is one string to the operator.
      re_opts.set_dot_nl(true);
      auto re = std::make_shared<const RE2>(m.cmdline, re_opts);
      if (!re->ok()) {
        match.Error("cmdline", "is not a valid RE2 regex: " + re->error());
      } else {
        m.cmdline_re = std::move(re);
      }
    }
    o->matchers.push_back(std::move(m));
  }
  return o;
}

Result<std::unique_ptr<Plugin>> CreateProcessPlugin(const PluginSetup& setup) {
  static const ProcessOptions kDefaults;
  const auto* o = setup.options ? static_cast<const ProcessOptions*>(setup.options) : &kDefaults;
  return std::unique_ptr<Plugin>(std::make_unique<ProcessPlugin>(*setup.env, *o));
}

}  // namespace hw::collector
