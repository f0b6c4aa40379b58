// `hostwatch top` and `hostwatch tail`: what the broker's tap carries, for people (and scripts,
// with --json). Both are lossy views (the tap drops what a slow reader cannot take); what must
// see every message reads a consumer group (`hostwatch consume`).
#include "cli/live_views.h"

#include <fnmatch.h>
#include <google/protobuf/util/json_util.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>

#include "cli/fleet_view.h"
#include "cli/tap.h"
#include "common/daemon/flags.h"

namespace hw::cli {

using namespace std::chrono_literals;
using hostwatch::v1::Envelope;

const std::string_view kTopUsage =
    "usage: hostwatch top [--sort KEY] [--stale S] [--once] [--wait S] [--broker URL] [--tap URL]\n"
    "                     [--curve-key NAME --server-key FILE]\n"
    "\n"
    "A live fleet table from the broker's tap: host, CPU, memory, load, fullest disk, network,\n"
    "firing alerts, last seen. On a terminal it refreshes every second; keys: c m l d n a h s\n"
    "sort by cpu, mem, load, disk, net, alerts, host, seen; q quits. When stdout is not a\n"
    "terminal (or with --once) it listens for --wait seconds and prints the table once.\n"
    "  --sort KEY  host|cpu|mem|load|disk|net|alerts|seen (default cpu)\n"
    "  --stale S   a host silent this long is marked STALE (default 60)\n"
    "  --wait S    one-shot: how long to listen (default 12, a little over one 10 s interval)\n";

const std::string_view kTailUsage =
    "usage: hostwatch tail [--events | --alerts | --all] [--endpoint GLOB] [--metric GLOB]\n"
    "                      [--json] [--count N] [--timeout S] [--broker URL] [--tap URL]\n"
    "                      [--curve-key NAME --server-key FILE]\n"
    "\n"
    "Prints what the broker appends, live, from its tap (lossy: a slow terminal misses lines).\n"
    "Samples by default; --events for log events, --alerts for alert changes, --all for all.\n"
    "  --endpoint GLOB  only these endpoints (shell glob, e.g. 'web-*')\n"
    "  --metric GLOB    only these metrics (samples) or log rules (events) or alert rules\n"
    "  --json           one line per envelope in protobuf's canonical JSON\n"
    "  --count N        stop after N lines;  --timeout S  stop after S seconds\n";

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnLiveViewInterrupt(int) { g_interrupted = 1; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Glob(const std::string& pattern, const std::string& s) {
  return pattern.empty() || fnmatch(pattern.c_str(), s.c_str(), 0) == 0;
}

std::string Clock(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// Raw keys on a terminal for the life of the object; restores the terminal on every exit path.
class RawTerminal {
 public:
  RawTerminal() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C still works
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    std::fputs("\033[?1049h\033[?25l", stdout);  // alternate screen, hide cursor
  }
  ~RawTerminal() {
    std::fputs("\033[?25h\033[?1049l", stdout);
    std::fflush(stdout);
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  // A key pressed since the last call, or 0.
  char Key() const {
    char c = 0;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (active_ && ::poll(&p, 1, 0) > 0 && ::read(STDIN_FILENO, &c, 1) == 1) return c;
    return 0;
  }

 private:
  termios saved_{};
  bool active_ = false;
};

void TerminalSize(size_t* cols, size_t* rows) {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    *cols = ws.ws_col;
    *rows = ws.ws_row;
  } else {
    *cols = 120;
    *rows = 40;
  }
}

}  // namespace

int RunTop(VerbInput& in) {
  SortKey sort = SortKey::kCpu;
  std::chrono::milliseconds stale = 60s, wait = 12s;
  bool once = false;
  for (size_t i = 0; i < in.args.size(); ++i) {
    std::string v;
    Status err;
    if (in.args[i] == "--once") {
      once = true;
    } else if (TakeFlag(in.args, &i, "--sort", &v, &err)) {
      Result<SortKey> k = ParseSortKey(v);
      if (!k.ok()) return in.UsageError(k.status());
      sort = *k;
    } else if (TakeFlag(in.args, &i, "--stale", &v, &err)) {
      Result<std::chrono::milliseconds> d = ParseSeconds("--stale", v);
      if (!d.ok()) return in.UsageError(d.status());
      stale = *d;
    } else if (TakeFlag(in.args, &i, "--wait", &v, &err)) {
      Result<std::chrono::milliseconds> d = ParseSeconds("--wait", v);
      if (!d.ok()) return in.UsageError(d.status());
      wait = *d;
    } else {
      return in.UsageError(err.ok() ? Status::InvalidArgument("unknown argument " + in.args[i])
                                    : err);
    }
  }
  Result<std::unique_ptr<TapReader>> tap = TapReader::Open(in.broker, {});
  if (!tap.ok()) return in.Failure(daemon::kExitRuntime, tap.status().message());
  std::signal(SIGINT, OnLiveViewInterrupt);
  std::signal(SIGTERM, OnLiveViewInterrupt);
  FleetView view;
  const bool live = !once && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);

  if (!live) {
    const auto end = std::chrono::steady_clock::now() + wait;
    while (!g_interrupted) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left <= 0ms) break;
      Result<std::optional<TapMessage>> m = (*tap)->Next(left);
      if (!m.ok()) break;
      if (m->has_value()) view.Observe((*m)->envelope);
    }
    std::fputs(view.Render(sort, NowMs(), stale.count(), 200, 100000).c_str(), stdout);
    return view.size() > 0 ? daemon::kExitOk : daemon::kExitRuntime;
  }

  RawTerminal term;
  auto next_draw = std::chrono::steady_clock::now();
  while (!g_interrupted) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_draw) {
      size_t cols = 0, rows = 0;
      TerminalSize(&cols, &rows);
      std::string screen = "\033[H\033[2J";
      screen += view.Render(sort, NowMs(), stale.count(), cols, rows > 3 ? rows - 3 : 1);
      if (view.size() == 0) screen += "(waiting for the tap: hosts appear as they send)\n";
      std::fputs(screen.c_str(), stdout);
      std::fflush(stdout);
      next_draw = now + 1s;
    }
    for (char c = term.Key(); c != 0; c = term.Key()) {
      if (c == 'q' || c == 'Q') return daemon::kExitOk;
      if (Result<SortKey> k = ParseSortKey(std::string(1, c)); k.ok()) {
        sort = *k;
        next_draw = now;
      }
    }
    Result<std::optional<TapMessage>> m = (*tap)->Next(100ms);
    if (!m.ok()) break;
    if (m->has_value()) view.Observe((*m)->envelope);
  }
  return daemon::kExitOk;
}

int RunTail(VerbInput& in) {
  bool samples = true, events = false, alerts = false, json = false;
  std::string endpoint, metric;
  uint64_t count = 0;
  std::chrono::milliseconds timeout{0};
  for (size_t i = 0; i < in.args.size(); ++i) {
    std::string v;
    Status err;
    const std::string& a = in.args[i];
    if (a == "--events") {
      samples = false, events = true;
    } else if (a == "--alerts") {
      samples = false, alerts = true;
    } else if (a == "--all") {
      samples = events = alerts = true;
    } else if (a == "--json") {
      json = true;
    } else if (TakeFlag(in.args, &i, "--endpoint", &endpoint, &err) ||
               TakeFlag(in.args, &i, "--metric", &metric, &err)) {
    } else if (TakeFlag(in.args, &i, "--count", &v, &err)) {
      Result<uint64_t> n = ParseCount("--count", v);
      if (!n.ok()) return in.UsageError(n.status());
      count = *n;
    } else if (TakeFlag(in.args, &i, "--timeout", &v, &err)) {
      Result<std::chrono::milliseconds> d = ParseSeconds("--timeout", v);
      if (!d.ok()) return in.UsageError(d.status());
      timeout = *d;
    } else {
      return in.UsageError(err.ok() ? Status::InvalidArgument("unknown argument " + a) : err);
    }
  }
  std::vector<std::string> prefixes;
  // The topic carries the endpoint: a literal endpoint narrows the subscription at the broker.
  const bool literal = !endpoint.empty() && endpoint.find_first_of("*?[") == std::string::npos;
  if (samples) prefixes.push_back("samples." + (literal ? endpoint : ""));
  if (events) prefixes.push_back("events." + (literal ? endpoint : ""));
  if (alerts) prefixes.push_back("alerts." + (literal ? endpoint : ""));
  Result<std::unique_ptr<TapReader>> tap = TapReader::Open(in.broker, prefixes);
  if (!tap.ok()) return in.Failure(daemon::kExitRuntime, tap.status().message());
  std::signal(SIGINT, OnLiveViewInterrupt);
  std::signal(SIGTERM, OnLiveViewInterrupt);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  const auto start = std::chrono::steady_clock::now();
  uint64_t printed = 0;
  auto emit = [&](const std::string& line) {
    std::fputs(line.c_str(), stdout);
    ++printed;
  };
  while (!g_interrupted && (count == 0 || printed < count)) {
    std::chrono::milliseconds wait = 500ms;
    if (timeout > 0ms) {
      const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - start);
      if (left <= 0ms) break;
      wait = std::min(wait, left);
    }
    Result<std::optional<TapMessage>> m = (*tap)->Next(wait);
    if (!m.ok()) break;
    if (!m->has_value()) continue;
    const Envelope& e = (*m)->envelope;
    if (json) {
      bool keep = false;
      if (e.has_samples()) {
        keep = Glob(endpoint, e.samples().endpoint()) &&
               std::any_of(e.samples().samples().begin(), e.samples().samples().end(),
                           [&](const auto& s) { return Glob(metric, s.metric()); });
      } else if (e.has_events()) {
        keep = Glob(endpoint, e.events().endpoint()) &&
               std::any_of(e.events().events().begin(), e.events().events().end(),
                           [&](const auto& ev) { return Glob(metric, ev.rule()); });
      } else if (e.has_alerts()) {
        keep = std::any_of(
            e.alerts().alerts().begin(), e.alerts().alerts().end(),
            [&](const auto& a) { return Glob(endpoint, a.endpoint()) && Glob(metric, a.rule()); });
      }
      if (!keep) continue;
      std::string out;
      if (!google::protobuf::util::MessageToJsonString(e, &out).ok()) continue;
      emit(out + "\n");
      continue;
    }
    if (e.has_samples()) {
      if (!Glob(endpoint, e.samples().endpoint())) continue;
      for (const auto& s : e.samples().samples()) {
        if (!Glob(metric, s.metric()) || (count != 0 && printed >= count)) continue;
        std::string tags;
        for (const auto& [k, v] :
             std::map<std::string, std::string>(s.tags().begin(), s.tags().end()))
          tags += (tags.empty() ? "{" : ",") + k + "=" + v;
        if (!tags.empty()) tags += "}";
        char value[64];
        // Shortest round-trip form, as the rediscache stores it: 42.5, not 42.500000.
        *std::to_chars(value, value + sizeof value - 1, s.value()).ptr = '\0';
        emit(Clock(s.time_ms()) + " " + e.samples().endpoint() + " " + s.metric() + tags + " " +
             value + "\n");
      }
    } else if (e.has_events()) {
      if (!Glob(endpoint, e.events().endpoint())) continue;
      for (const auto& ev : e.events().events()) {
        if (!Glob(metric, ev.rule()) || (count != 0 && printed >= count)) continue;
        std::string line = ev.line();
        for (char& c : line) {
          if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';  // no terminal control
        }
        emit(Clock(ev.time_ms()) + " " + e.events().endpoint() + " [" +
             hostwatch::v1::Severity_Name(ev.severity()) + "] " + ev.rule() + " " + ev.path() +
             ": " + line +
             (ev.suppressed() ? " (+" + std::to_string(ev.suppressed()) + " suppressed)" : "") +
             "\n");
      }
    } else if (e.has_alerts()) {
      for (const auto& a : e.alerts().alerts()) {
        if (!Glob(endpoint, a.endpoint()) || !Glob(metric, a.rule())) continue;
        char value[64];
        std::snprintf(value, sizeof value, "%g", a.value());
        emit(Clock(a.time_ms()) + " [" + hostwatch::v1::Alert::State_Name(a.state()) + "] " +
             a.rule() + " on " + a.endpoint() + (a.series().empty() ? "" : " " + a.series()) +
             " = " + value + (a.summary().empty() ? "" : ": " + a.summary()) + "\n");
      }
    }
  }
  return daemon::kExitOk;
}

}  // namespace hw::cli
