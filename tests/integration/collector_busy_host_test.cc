// The collector issue's "busy host" run: the real tcp, disk and net plugins, in process, on the
// live kernel, checked against ss, /proc/self/mountinfo and /proc/net/dev read in full at the same
// tick. procfs seq_files return about a page per read(2), so each test makes its file span several
// pages (more than 200 sockets, more than 40 mounts, more than 40 interfaces): a reader that took a
// short read for the end of the file would lose sockets, the mounts listed last and interfaces.
//
// main() moves the process into a mount and a network namespace of its own before gtest starts,
// while it is still single-threaded. /proc/net/* then shows only this test's sockets and
// interfaces, so the counts are exact whatever else the machine runs, and the mounts never reach
// the host. That needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN): without it every test skips.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collector/builtin_plugins.h"
#include "collector/host_env.h"
#include "collector/plugin.h"
#include "collector/plugins/disk/disk_plugin.h"
#include "collector/plugins/net/net_plugin.h"
#include "common/config/config.h"
#include "common/io/file_io.h"
#include "common/status/status.h"
#include "common/strings/strings.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::collector {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using io::UniqueFd;

// What main() could set up before gtest started.
std::string g_skip_reason;  // unshare failed (not privileged): every test skips with this
std::string g_setup_error;  // unshare worked but the rest did not: every test fails with this
std::string g_setup_note;   // something optional that did not work

Status BringLoopbackUp() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return Status::IoError("socket", errno);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", "lo");
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Status::IoError("SIOCGIFFLAGS lo", errno);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Status::IoError("SIOCSIFFLAGS lo", errno);
  return Status::Ok();
}

void Isolate() {
  if (::unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) {
    g_skip_reason = Status::IoError("unshare(CLONE_NEWNS | CLONE_NEWNET)", errno).ToString() +
                    ": this test makes its own mount and network namespaces, which needs root";
    return;
  }
  // Where / is a shared mount (systemd), the new namespace's mounts would otherwise propagate to
  // the host's.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    g_setup_error = Status::IoError("making / recursively private", errno).ToString();
    return;
  }
  // A new network namespace has only lo, and it is down: no connect to 127.0.0.1 until it is up.
  if (Status st = BringLoopbackUp(); !st.ok()) {
    g_setup_error = st.ToString();
    return;
  }
  // /sys/class/net lists the interfaces of the namespace that mounted sysfs, so the host's /sys
  // would show the net plugin the host's links under this namespace's names. The plugin's link
  // state is not what this test checks, so a failure here is only noted.
  if (::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    g_setup_note = Status::IoError("mounting this namespace's sysfs on /sys", errno).ToString();
  }
}

class BusyHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_skip_reason.empty()) GTEST_SKIP() << g_skip_reason;
    ASSERT_TRUE(g_setup_error.empty()) << g_setup_error;
    if (!g_setup_note.empty()) std::cout << "[   NOTE   ] " << g_setup_note << "\n";
    env_ = HostEnv::Real();
    ASSERT_TRUE(env_.live_procfs) << "/proc is not a procfs";
  }

  Result<std::unique_ptr<Plugin>> Create(std::string_view name, const PluginOptions* options) {
    const PluginDescriptor* d = FindBuiltinPlugin(name);
    if (d == nullptr) return Status::NotFound("no built-in plugin " + std::string(name));
    PluginSetup setup;
    setup.env = &env_;
    setup.interval_ms = 1000;
    setup.options = options;
    return d->create(setup);
  }

  HostEnv env_;
};

CollectTime Now() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  return {duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count(),
          duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count()};
}

// A file read to the end with plain read(2)s, deliberately not with collector/proc_text (its reader
// is what is under test). reads: how many reads returned data (a seq_file: about one per page).
struct FileText {
  std::string text;
  int reads = 0;
};

Result<FileText> ReadWhole(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::IoError("open " + path, errno);
  FileText out;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("read " + path, errno);
    if (n == 0) return out;
    out.text.append(buf.data(), static_cast<size_t>(n));
    ++out.reads;
  }
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  strings::ForEachLine(text, [&out](std::string_view line) { out.push_back(line); });
  return out;
}

using strings::SplitFields;

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The values of one tag over the points of one metric, and how many such points there were (a
// point reported twice would hide in the set).
struct TagValues {
  std::set<std::string> values;
  size_t points = 0;
};

TagValues TagsOf(const std::vector<Point>& points, std::string_view metric, std::string_view key) {
  TagValues out;
  for (const Point& p : points) {
    if (p.metric != metric) continue;
    ++out.points;
    for (const auto& [k, v] : p.tags) {
      if (k == key) out.values.insert(v);
    }
  }
  return out;
}

// --- tcp ----------------------------------------------------------------------------------------

// include/net/tcp_states.h codes as /proc/net/tcp prints them, ss's names, the plugin's metrics.
// CLOSE (7) is in neither listing: a socket that is only bound is in no hash table they dump.
struct TcpState {
  int code;
  std::string_view ss_name;
  std::string_view metric;
};
constexpr TcpState kTcpStates[] = {
    {1, "ESTAB", "tcp.established"},     {2, "SYN-SENT", "tcp.syn_sent"},
    {3, "SYN-RECV", "tcp.syn_recv"},     {4, "FIN-WAIT-1", "tcp.fin_wait1"},
    {5, "FIN-WAIT-2", "tcp.fin_wait2"},  {6, "TIME-WAIT", "tcp.time_wait"},
    {8, "CLOSE-WAIT", "tcp.close_wait"}, {9, "LAST-ACK", "tcp.last_ack"},
    {10, "LISTEN", "tcp.listen"},        {11, "CLOSING", "tcp.closing"},
};

// Sockets per state metric; a state the table does not know is counted under a key that names it,
// so a comparison shows it.
using TcpCounts = std::map<std::string, uint64_t>;

TcpCounts ZeroTcpCounts() {
  TcpCounts c;
  for (const TcpState& s : kTcpStates) c[std::string(s.metric)] = 0;
  return c;
}

uint64_t Total(const TcpCounts& c) {
  uint64_t n = 0;
  for (const auto& [state, count] : c) n += count;
  return n;
}

Result<TcpCounts> SsCounts() {
  std::string out;
  Result<int> rc = testing::RunCommand({"ss", "-tan"}, &out, 10s);
  if (!rc.ok()) return rc.status();
  if (*rc != 0) return Status::Internal("ss -tan exited " + std::to_string(*rc) + ": " + out);
  TcpCounts c = ZeroTcpCounts();
  for (std::string_view line : Lines(out)) {
    const std::vector<std::string_view> w = SplitFields(line);
    if (w.empty() || w[0] == "State") continue;
    const auto* s = std::find_if(std::begin(kTcpStates), std::end(kTcpStates),
                                 [&](const TcpState& t) { return t.ss_name == w[0]; });
    ++c[s != std::end(kTcpStates) ? std::string(s->metric) : "ss state " + std::string(w[0])];
  }
  return c;
}

// The 4th column of /proc/net/tcp and tcp6 ("  12: 0100007F:1F90 00000000:0000 0A ..."), in hex.
void CountProcTcp(std::string_view text, TcpCounts* c) {
  const std::vector<std::string_view> lines = Lines(text);
  for (size_t i = 1; i < lines.size(); ++i) {  // line 0 is the header
    const std::vector<std::string_view> w = SplitFields(lines[i]);
    if (w.empty()) continue;
    const std::string hex = w.size() > 3 ? std::string(w[3]) : std::string();
    char* end = nullptr;
    const long code = hex.empty() ? -1 : std::strtol(hex.c_str(), &end, 16);
    const auto* s = std::find_if(std::begin(kTcpStates), std::end(kTcpStates),
                                 [&](const TcpState& t) { return t.code == code; });
    const bool known = !hex.empty() && *end == '\0' && s != std::end(kTcpStates);
    ++(*c)[known ? std::string(s->metric) : "proc state " + hex];
  }
}

// One look at the sockets by the plugin, ss and /proc/net/tcp{,6}, one right after the other.
struct TcpTick {
  Status collect;
  std::string problems;  // a listing that could not be had, a state reported twice
  TcpCounts plugin, ss, proc;
  size_t tcp_bytes = 0;
  int tcp_reads = 0;

  bool Agree() const { return collect.ok() && problems.empty() && plugin == ss && plugin == proc; }
};

TcpTick TakeTcpTick(Plugin& plugin) {
  TcpTick t;
  std::vector<Point> points;
  t.collect = plugin.Collect(Now(), &points);
  Result<TcpCounts> ss = SsCounts();
  Result<FileText> tcp = ReadWhole("/proc/net/tcp");
  Result<FileText> tcp6 = ReadWhole("/proc/net/tcp6");

  for (const Point& p : points) {
    const auto* s = std::find_if(std::begin(kTcpStates), std::end(kTcpStates),
                                 [&](const TcpState& st) { return st.metric == p.metric; });
    if (s == std::end(kTcpStates)) continue;
    if (t.plugin.count(p.metric) > 0) t.problems += p.metric + " reported twice; ";
    t.plugin[p.metric] = static_cast<uint64_t>(p.value);
  }
  if (ss.ok()) {
    t.ss = *ss;
  } else {
    t.problems += ss.status().ToString() + "; ";
  }
  t.proc = ZeroTcpCounts();
  if (tcp.ok()) {
    CountProcTcp(tcp->text, &t.proc);
    t.tcp_bytes = tcp->text.size();
    t.tcp_reads = tcp->reads;
  } else {
    t.problems += tcp.status().ToString() + "; ";
  }
  // A kernel without IPv6 has no tcp6, and the plugin does without it too.
  if (tcp6.ok()) CountProcTcp(tcp6->text, &t.proc);
  return t;
}

Result<UniqueFd> Listen(uint16_t* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::IoError("socket", errno);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    return Status::IoError("bind 127.0.0.1:0", errno);
  if (::listen(fd.get(), 256) != 0) return Status::IoError("listen", errno);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return Status::IoError("getsockname", errno);
  *port = ntohs(a.sin_port);
  return fd;
}

Result<UniqueFd> Connect(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::IoError("socket", errno);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    return Status::IoError("connect 127.0.0.1:" + std::to_string(port), errno);
  return fd;
}

// Accept, and reads on the accepted socket, give up after 10 s instead of hanging the test.
Status SetReceiveTimeout(int fd) {
  timeval tv{};
  tv.tv_sec = 10;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
    return Status::IoError("SO_RCVTIMEO", errno);
  return Status::Ok();
}

Result<UniqueFd> Accept(int listener) {
  UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) return Status::IoError("accept", errno);
  HW_RETURN_IF_ERROR(SetReceiveTimeout(fd.get()));
  return fd;
}

// Returns once the peer's FIN has arrived (read returns 0): this end is then in CLOSE_WAIT.
Status AwaitEof(int fd) {
  char c;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 0) return Status::Ok();
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("waiting for the peer's FIN", errno);
    return Status::Internal("unexpected data from the peer");
  }
}

constexpr int kEstablishedPairs = 90;
constexpr int kTimeWaits = 30;
constexpr int kHalfClosedPairs = 10;
constexpr int kListeners = 4;

// What MakeSockets leaves, per state.
TcpCounts IntendedTcpCounts() {
  TcpCounts c = ZeroTcpCounts();
  c["tcp.listen"] = kListeners;
  c["tcp.established"] = 2 * kEstablishedPairs;
  c["tcp.time_wait"] = kTimeWaits;
  c["tcp.fin_wait2"] = kHalfClosedPairs;
  c["tcp.close_wait"] = kHalfClosedPairs;
  return c;
}

// Every socket it keeps open goes to *keep. A TIME_WAIT socket has no descriptor: the kernel keeps
// it for 60 s after both ends closed.
Status MakeSockets(std::vector<UniqueFd>* keep) {
  uint16_t est_port = 0, tw_port = 0, half_port = 0, idle_port = 0;
  HW_ASSIGN_OR_RETURN(UniqueFd est_listener, Listen(&est_port));
  HW_ASSIGN_OR_RETURN(UniqueFd tw_listener, Listen(&tw_port));
  HW_ASSIGN_OR_RETURN(UniqueFd half_listener, Listen(&half_port));
  HW_ASSIGN_OR_RETURN(UniqueFd idle_listener, Listen(&idle_port));
  for (const UniqueFd* l : {&est_listener, &tw_listener, &half_listener}) {
    HW_RETURN_IF_ERROR(SetReceiveTimeout(l->get()));
  }

  for (int i = 0; i < kEstablishedPairs; ++i) {
    HW_ASSIGN_OR_RETURN(UniqueFd c, Connect(est_port));
    HW_ASSIGN_OR_RETURN(UniqueFd s, Accept(est_listener.get()));
    keep->push_back(std::move(c));
    keep->push_back(std::move(s));
  }
  // TIME_WAIT stays with the end that closes first, here the client. The server closes only once
  // it has read the client's FIN: had both FINs crossed (CLOSING), both ends would be in
  // TIME_WAIT and the count would depend on timing.
  for (int i = 0; i < kTimeWaits; ++i) {
    HW_ASSIGN_OR_RETURN(UniqueFd c, Connect(tw_port));
    HW_ASSIGN_OR_RETURN(UniqueFd s, Accept(tw_listener.get()));
    c.Reset();
    HW_RETURN_IF_ERROR(AwaitEof(s.get()));
    s.Reset();
  }
  // FIN_WAIT2 and CLOSE_WAIT last as long as both descriptors stay open: the client only shuts its
  // sending half (a closed, orphaned FIN_WAIT2 would time out after tcp_fin_timeout) and the
  // server never closes.
  for (int i = 0; i < kHalfClosedPairs; ++i) {
    HW_ASSIGN_OR_RETURN(UniqueFd c, Connect(half_port));
    HW_ASSIGN_OR_RETURN(UniqueFd s, Accept(half_listener.get()));
    if (::shutdown(c.get(), SHUT_WR) != 0) return Status::IoError("shutdown", errno);
    HW_RETURN_IF_ERROR(AwaitEof(s.get()));
    keep->push_back(std::move(c));
    keep->push_back(std::move(s));
  }
  keep->push_back(std::move(est_listener));
  keep->push_back(std::move(tw_listener));
  keep->push_back(std::move(half_listener));
  keep->push_back(std::move(idle_listener));
  return Status::Ok();
}

// Whether ss shows every socket MakeSockets made in its final state. Sockets of an earlier
// repetition of this test (--gtest_repeat) can only be in TIME_WAIT by then, so that count is a
// lower bound; nothing may be left in a passing state (FIN-WAIT-1, LAST-ACK, ...).
bool Settled(const TcpCounts& seen, const TcpCounts& intended) {
  if (seen.size() != intended.size()) return false;  // a state ss names and we do not
  for (const auto& [metric, want] : intended) {
    const uint64_t got = seen.at(metric);
    if (metric == "tcp.time_wait" ? got < want : got != want) return false;
  }
  return true;
}

TEST_F(BusyHostTest, TcpStatesAgreeWithSsAndProcNetTcp) {
  std::vector<UniqueFd> sockets;
  const Status made = MakeSockets(&sockets);
  ASSERT_TRUE(made.ok()) << made.ToString();

  // The last ACKs and FINs are processed after the calls that sent them have returned.
  const TcpCounts intended = IntendedTcpCounts();
  TcpCounts last_ss;
  const bool settled = testing::WaitFor(
      [&] {
        Result<TcpCounts> c = SsCounts();
        if (c.ok()) last_ss = *c;
        return c.ok() && Settled(*c, intended);
      },
      30s, 50ms);
  ASSERT_TRUE(settled) << "ss -tan never showed the sockets made; last seen: "
                       << ::testing::PrintToString(last_ss)
                       << "\nintended: " << ::testing::PrintToString(intended);

  // Both ways the plugin counts: over NETLINK_SOCK_DIAG (the live default) and from the text of
  // /proc/net/tcp and tcp6 (recorded trees, or where sock_diag fails), which must be read to the
  // end.
  for (const bool sock_diag : {true, false}) {
    SCOPED_TRACE(sock_diag ? "states over sock_diag" : "states from /proc/net/tcp{,6}");
    env_.sock_diag = sock_diag;
    Result<std::unique_ptr<Plugin>> plugin = Create("tcp", nullptr);
    ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();

    // Every state is stable now except that TIME_WAITs of an earlier repetition may expire between
    // two of the three listings: look again until one tick has all three agree.
    TcpTick tick;
    const bool agreed = testing::WaitFor(
        [&] {
          tick = TakeTcpTick(**plugin);
          return tick.Agree();
        },
        20s, 10ms);
    EXPECT_TRUE(agreed) << "no tick where the plugin, ss and /proc/net/tcp agreed; the last one:";
    ASSERT_TRUE(tick.collect.ok()) << tick.collect.ToString();
    ASSERT_TRUE(tick.problems.empty()) << tick.problems;
    EXPECT_EQ(tick.plugin, tick.ss) << "tcp.* (left) against ss -tan (right)";
    EXPECT_EQ(tick.plugin, tick.proc) << "tcp.* (left) against /proc/net/tcp{,6} (right)";
    EXPECT_TRUE(Settled(tick.plugin, intended)) << ::testing::PrintToString(tick.plugin);
    EXPECT_GT(Total(tick.plugin), 200u);
    if (sock_diag) {  // the counts came from the dump, not from a fallback to the text
      std::vector<Point> self;
      (*plugin)->SelfMetrics(&self);
      ASSERT_EQ(self.size(), 1u);
      EXPECT_EQ(self[0].metric, "hostwatch.collector.sock_diag_errors");
      EXPECT_EQ(self[0].value, 0);
    }
    EXPECT_GT(tick.tcp_bytes, 4096u) << "/proc/net/tcp fits in a page: the test proves nothing";
    std::cout << "[   INFO   ] tcp (" << (sock_diag ? "sock_diag" : "text")
              << "): " << Total(tick.plugin)
              << " sockets: " << ::testing::PrintToString(tick.plugin) << "; /proc/net/tcp "
              << tick.tcp_bytes << " bytes in " << tick.tcp_reads << " reads\n";
  }
}

// --- disk ---------------------------------------------------------------------------------------

// "\040" -> ' ': the kernel escapes space, tab, newline and backslash in mount tables as octal.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct MountEntry {
  std::string point, fstype, source;
};

// proc(5) mountinfo: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the mount
// point is the 5th field; after the optional fields and "-" come the fstype and the source.
std::vector<MountEntry> ParseMountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  for (std::string_view line : Lines(text)) {
    const std::vector<std::string_view> w = SplitFields(line);
    for (size_t i = 6; i + 2 < w.size(); ++i) {
      if (w[i] != "-") continue;
      out.push_back({Unescape(w[4]), std::string(w[i + 1]), Unescape(w[i + 2])});
      break;
    }
  }
  return out;
}

// The mount points disk.* should report for this mount table, by the rules disk_plugin.{h,cc}
// document, applied in the same order: ignored fstypes and mount points first; then a later mount
// on the same point hides the earlier one; then a device path (source starting with '/') counts
// once, at its first remaining mount point; then a filesystem of 0 bytes is skipped.
struct ExpectedMounts {
  std::set<std::string> points;
  std::vector<std::string> statvfs_failed;  // the plugin fails its Collect for these
};

ExpectedMounts ExpectedDiskMounts(const std::vector<MountEntry>& table,
                                  const std::vector<std::string>& ignore_fstypes,
                                  const std::vector<std::string>& ignore_mounts) {
  std::vector<MountEntry> visible;
  for (const MountEntry& m : table) {
    if (Contains(ignore_fstypes, m.fstype) || Contains(ignore_mounts, m.point)) continue;
    std::erase_if(visible, [&](const MountEntry& o) { return o.point == m.point; });
    visible.push_back(m);
  }
  ExpectedMounts out;
  std::set<std::string> devices;
  for (const MountEntry& m : visible) {
    if (m.source.starts_with('/') && !devices.insert(m.source).second) continue;
    struct statvfs st {};
    if (::statvfs(m.point.c_str(), &st) != 0) {
      out.statvfs_failed.push_back(m.point);
      continue;
    }
    const uint64_t frsize = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
    if (static_cast<uint64_t>(st.f_blocks) * frsize == 0) continue;
    out.points.insert(m.point);
  }
  return out;
}

// Unmounts what the test mounted, last first, and makes sure the loop device is detached: the
// mount namespace ends with the process, but the loop device is the host's and would stay
// attached to the image.
class MountGuard {
 public:
  MountGuard() = default;
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() {
    for (auto it = points_.rbegin(); it != points_.rend(); ++it) {
      if (::umount2(it->c_str(), 0) != 0) (void)::umount2(it->c_str(), MNT_DETACH);
    }
    if (!image_.empty()) DetachLoop();
  }
  void Mounted(fs::path point) { points_.push_back(std::move(point)); }
  void UsesImage(fs::path image) { image_ = std::move(image); }

 private:
  std::string LoopsOfImage() {
    std::string out;
    Result<int> rc = testing::RunCommand({"losetup", "-j", image_.string()}, &out, 10s);
    return rc.ok() && *rc == 0 ? out : std::string();
  }

  void DetachLoop() {
    // mount -o loop sets autoclear, so the last unmount detaches the device; the kernel may do
    // that after umount2 has returned.
    if (testing::WaitFor([&] { return LoopsOfImage().empty(); }, 10s, 50ms)) return;
    for (std::string_view line : Lines(LoopsOfImage())) {
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string out;
      (void)testing::RunCommand({"losetup", "-d", std::string(line.substr(0, colon))}, &out, 10s);
    }
    const std::string left = LoopsOfImage();
    EXPECT_TRUE(left.empty()) << "loop device still attached: " << left;
  }

  std::vector<fs::path> points_;
  fs::path image_;
};

Status MountTmpfs(const fs::path& point) {
  std::error_code ec;
  fs::create_directories(point, ec);
  if (ec) return Status::IoError("mkdir " + point.string(), ec.value());
  if (::mount("tmpfs", point.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0)
    return Status::IoError("mount tmpfs on " + point.string(), errno);
  return Status::Ok();
}

// An ext4 image on a loop device at point; what went wrong if it could not be had.
Status MountExt4Image(const fs::path& image, const fs::path& point) {
  std::error_code ec;
  fs::create_directories(point, ec);
  if (ec) return Status::IoError("mkdir " + point.string(), ec.value());
  if (Status st = testing::WriteFile(image, ""); !st.ok()) return st;
  fs::resize_file(image, 32 << 20, ec);
  if (ec) return Status::IoError("truncate " + image.string(), ec.value());
  std::vector<std::vector<std::string>> steps = {
      {"mkfs.ext4", "-q", "-F", image.string()},
      {"mount", "-o", "loop", image.string(), point.string()}};
  for (auto& argv : steps) {
    const std::string what = argv[0];
    std::string out;
    Result<int> rc = testing::RunCommand(std::move(argv), &out, 60s);
    if (!rc.ok()) return rc.status().WithContext(what);
    if (*rc != 0) return Status::Internal(what + " exited " + std::to_string(*rc) + ": " + out);
  }
  return Status::Ok();
}

// The disk plugin's options when tmpfs has to stand in for a real filesystem: the defaults less
// tmpfs, read from YAML as the collector's config would be.
Result<std::shared_ptr<const PluginOptions>> DiskOptionsCountingTmpfs(
    std::vector<std::string>* ignore_fstypes) {
  std::erase(*ignore_fstypes, "tmpfs");
  std::string yaml = "ignore_fstypes: [";
  for (size_t i = 0; i < ignore_fstypes->size(); ++i) {
    yaml += (i > 0 ? ", \"" : "\"") + (*ignore_fstypes)[i] + "\"";
  }
  yaml += "]\n";
  const PluginDescriptor* d = FindBuiltinPlugin("disk");
  if (d == nullptr || d->read_options == nullptr) return Status::NotFound("disk plugin options");
  HW_ASSIGN_OR_RETURN(std::unique_ptr<config::Document> doc,
                      config::Document::LoadString(yaml, "busy-host disk options"));
  config::Section root = doc->root();
  std::shared_ptr<const PluginOptions> options = d->read_options(root);
  HW_RETURN_IF_ERROR(doc->Finish());
  return options;
}

// One Collect of the disk plugin and the mount table right after it.
struct DiskTick {
  Status collect;
  TagValues got;
  ExpectedMounts want;
  size_t mounts_bytes = 0;
  int mounts_reads = 0;
  size_t table_size = 0;
};

DiskTick TakeDiskTick(Plugin& plugin, const CollectTime& t,
                      const std::vector<std::string>& ignore_fstypes,
                      const std::vector<std::string>& ignore_mounts) {
  DiskTick tick;
  std::vector<Point> points;
  tick.collect = plugin.Collect(t, &points);
  Result<FileText> mountinfo = ReadWhole("/proc/self/mountinfo");
  Result<FileText> mounts = ReadWhole("/proc/self/mounts");
  tick.got = TagsOf(points, "disk.total", "mount");
  EXPECT_TRUE(mountinfo.ok()) << mountinfo.status().ToString();
  EXPECT_TRUE(mounts.ok()) << mounts.status().ToString();
  if (mountinfo.ok()) {
    const std::vector<MountEntry> table = ParseMountinfo(mountinfo->text);
    tick.table_size = table.size();
    tick.want = ExpectedDiskMounts(table, ignore_fstypes, ignore_mounts);
  }
  if (mounts.ok()) {
    tick.mounts_bytes = mounts->text.size();
    tick.mounts_reads = mounts->reads;
  }
  return tick;
}

void ExpectDiskTickAgrees(const DiskTick& tick) {
  // statvfs can fail only on a mount this test did not make; the plugin then says so, and reports
  // the rest.
  if (tick.want.statvfs_failed.empty()) {
    EXPECT_TRUE(tick.collect.ok()) << tick.collect.ToString();
  }
  EXPECT_EQ(tick.got.values, tick.want.points)
      << "mount tags of disk.total (left) against /proc/self/mountinfo (right)";
  EXPECT_EQ(tick.got.points, tick.got.values.size()) << "a mount point reported twice";
  EXPECT_GT(tick.table_size, 40u);
  EXPECT_GT(tick.mounts_bytes, 4096u)
      << "/proc/self/mounts fits in a page: the test proves nothing";
}

TEST_F(BusyHostTest, DiskMountsAgreeWithMountinfo) {
  constexpr int kTmpfsMounts = 48;
  testing::TempDir tmp;
  // A space in the path: the mount tables spell it "\040", and the plugin must unescape it.
  const fs::path root = tmp.Sub("busy host");
  MountGuard guard;
  for (int i = 0; i < kTmpfsMounts; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "tmpfs-%02d", i);
    const Status st = MountTmpfs(root / name);
    ASSERT_TRUE(st.ok()) << st.ToString();
    guard.Mounted(root / name);
  }

  // The filesystem disk.* must report is mounted after all the tmpfs, so it is listed past the
  // first page of /proc/self/mounts (tmpfs itself is ignored by default).
  const fs::path late = root / "ext4 after tmpfs";
  const fs::path image = tmp.path() / "ext4.img";
  guard.UsesImage(image);
  const Status ext4 = MountExt4Image(image, late);
  std::vector<std::string> ignore_fstypes = DiskOptions().ignore_fstypes;
  const std::vector<std::string> ignore_mounts = DiskOptions().ignore_mounts;
  std::shared_ptr<const PluginOptions> options;  // null: the defaults
  if (ext4.ok()) {
    guard.Mounted(late);
  } else {
    // No loop device (a container without /dev/loop*): a tmpfs stands in, and the plugin is told
    // not to ignore tmpfs, so the mounts listed after the first page still have to be reported.
    std::cout << "[   NOTE   ] no ext4 on a loop device (" << ext4.ToString()
              << "); a tmpfs stands in for it, with tmpfs not ignored\n";
    const Status st = MountTmpfs(late);
    ASSERT_TRUE(st.ok()) << st.ToString();
    guard.Mounted(late);
    Result<std::shared_ptr<const PluginOptions>> o = DiskOptionsCountingTmpfs(&ignore_fstypes);
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    options = *o;
  }

  Result<std::unique_ptr<Plugin>> plugin = Create("disk", options.get());
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();

  CollectTime t = Now();
  const DiskTick first = TakeDiskTick(**plugin, t, ignore_fstypes, ignore_mounts);
  {
    SCOPED_TRACE("first tick");
    ExpectDiskTickAgrees(first);
    EXPECT_TRUE(first.got.values.count(late.string()) > 0) << late << " not reported";
  }

  // A change to the table between two ticks (the plugin re-reads it only when the kernel says it
  // changed): the image bound elsewhere, the same device at a second mount point.
  const fs::path bound = root / "bind of the late mount";
  std::error_code ec;
  fs::create_directories(bound, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(::mount(late.c_str(), bound.c_str(), nullptr, MS_BIND, nullptr), 0)
      << Status::IoError("bind mount", errno).ToString();
  guard.Mounted(bound);
  t.wall_ms += 1000;
  t.mono_ms += 1000;
  const DiskTick second = TakeDiskTick(**plugin, t, ignore_fstypes, ignore_mounts);
  {
    SCOPED_TRACE("second tick, after a bind mount");
    ExpectDiskTickAgrees(second);
    EXPECT_TRUE(second.got.values.count(late.string()) > 0) << late << " not reported";
    // A device counts once, at its first mount point; a tmpfs has no device path.
    EXPECT_EQ(second.got.values.count(bound.string()) > 0, !ext4.ok());
  }
  std::cout << "[   INFO   ] disk: " << second.table_size << " mounts in mountinfo, "
            << second.got.values.size() << " reported; /proc/self/mounts " << second.mounts_bytes
            << " bytes in " << second.mounts_reads << " reads; late mount "
            << (ext4.ok() ? "ext4 on a loop device" : "tmpfs") << "\n";
}

// --- net ----------------------------------------------------------------------------------------

// Removes the veth pairs (deleting one end deletes its peer), so that a repetition of the test
// (--gtest_repeat) can add them again; the namespace ends with the process anyway.
class VethGuard {
 public:
  explicit VethGuard(fs::path batch) : batch_(std::move(batch)) {}
  VethGuard(const VethGuard&) = delete;
  VethGuard& operator=(const VethGuard&) = delete;
  ~VethGuard() {
    std::string out;
    (void)testing::RunCommand({"ip", "-force", "-batch", batch_.string()}, &out, 30s);
  }

 private:
  fs::path batch_;
};

TEST_F(BusyHostTest, NetInterfacesAgreeWithProcNetDev) {
  // veth, not dummy: not every kernel has the dummy driver.
  constexpr int kVethPairs = 21;
  testing::TempDir tmp;
  std::string add, del;
  std::vector<std::string> made;
  for (int i = 0; i < kVethPairs; ++i) {
    const std::string a = "hwv" + std::to_string(i) + "a", b = "hwv" + std::to_string(i) + "b";
    add += "link add " + a + " type veth peer name " + b + "\n";
    // Some up, some down: /proc/net/dev lists both.
    if (i % 2 == 0) add += "link set " + a + " up\nlink set " + b + " up\n";
    del += "link del " + a + "\n";
    made.push_back(a);
    made.push_back(b);
  }
  ASSERT_TRUE(testing::WriteFile(tmp.path() / "add.ip", add).ok());
  ASSERT_TRUE(testing::WriteFile(tmp.path() / "del.ip", del).ok());
  VethGuard guard(tmp.path() / "del.ip");
  std::string out;
  Result<int> rc =
      testing::RunCommand({"ip", "-batch", (tmp.path() / "add.ip").string()}, &out, 60s);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  ASSERT_EQ(*rc, 0) << out;

  Result<std::unique_ptr<Plugin>> plugin = Create("net", nullptr);
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  // Rates need two collections; the second is stamped a second later.
  CollectTime t = Now();
  std::vector<Point> first, second;
  const Status st1 = (*plugin)->Collect(t, &first);
  ASSERT_TRUE(st1.ok()) << st1.ToString();
  t.wall_ms += 1000;
  t.mono_ms += 1000;
  const Status st2 = (*plugin)->Collect(t, &second);
  Result<FileText> dev = ReadWhole("/proc/net/dev");
  ASSERT_TRUE(st2.ok()) << st2.ToString();
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();

  // "  eth0: 123 ..." after two header lines, which have no ':'.
  const std::vector<std::string> ignored = NetOptions().ignore_interfaces;
  std::set<std::string> want;
  for (std::string_view line : Lines(dev->text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::vector<std::string_view> name = SplitFields(line.substr(0, colon));
    if (name.size() == 1 && !Contains(ignored, name[0])) want.insert(std::string(name[0]));
  }
  const TagValues got = TagsOf(second, "net.rx_bytes", "iface");
  EXPECT_EQ(got.values, want) << "iface tags of net.rx_bytes (left) against /proc/net/dev (right)";
  EXPECT_EQ(got.points, got.values.size()) << "an interface reported twice";
  for (const std::string& name : made) EXPECT_TRUE(want.count(name) > 0) << name;
  EXPECT_GT(got.values.size(), 40u);
  EXPECT_GT(dev->text.size(), 4096u) << "/proc/net/dev fits in a page: the test proves nothing";
  std::cout << "[   INFO   ] net: " << want.size() << " interfaces in /proc/net/dev, "
            << got.values.size() << " reported; /proc/net/dev " << dev->text.size() << " bytes in "
            << dev->reads << " reads\n";
}

}  // namespace
}  // namespace hw::collector

// Namespaces first, while the process has one thread: gtest and the tests may start more, and
// every test relies on the whole process being inside them.
int main(int argc, char** argv) {
  hw::collector::Isolate();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
