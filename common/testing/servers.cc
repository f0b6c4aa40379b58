#include "common/testing/servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <system_error>

#include "common/strings/strings.h"
#include "common/testing/wait.h"

#ifndef HW_SOURCE_DIR
#error "HW_SOURCE_DIR must name the source tree (set in common/CMakeLists.txt)"
#endif

namespace hw::testing {
namespace {

// A blocking connect to ipv4:port (loopback: a closed port is refused at once).
bool TcpConnectsTo(const std::string& ipv4, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return false;
  }
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  ::close(fd);
  return rc == 0;
}

using std::chrono::milliseconds;
namespace fs = std::filesystem;

// FreeLoopbackPort() closes its socket before the server binds; another process can take the port
// in between. Such a start fails fast (the server exits), so it is retried on fresh ports.
constexpr int kPortAttempts = 3;

constexpr milliseconds kRedisReady(10'000);
constexpr milliseconds kCarbonReady(20'000);
constexpr milliseconds kSmtpReady(10'000);

std::string LogTail(const fs::path& log, size_t max_bytes = 2000) {
  Result<std::string> text = ReadFile(log);
  if (!text.ok()) return "(no log: " + text.status().message() + ")";
  if (text->size() > max_bytes) return "..." + text->substr(text->size() - max_bytes);
  return *text;
}

enum class Readiness { kReady, kExited, kTimedOut };

// Waits for ready() while watching the process, so a server that dies at start-up (port taken, bad
// config) is reported at once rather than after the whole deadline.
Readiness AwaitReady(Subprocess& proc, const std::function<bool()>& ready, milliseconds deadline) {
  bool exited = false;
  bool ok = WaitFor(
      [&] {
        if (!proc.Running()) {
          exited = true;
          return true;
        }
        return ready();
      },
      deadline);
  if (exited) return Readiness::kExited;
  return ok ? Readiness::kReady : Readiness::kTimedOut;
}

Status NotReady(Readiness r, Subprocess& proc, std::string_view what, milliseconds deadline,
                const fs::path& log) {
  if (r == Readiness::kExited) {
    return Status::Unavailable(std::string(what) + " exited with status " +
                               std::to_string(proc.exit_status().value_or(-1)) +
                               " before it was ready; " + log.string() + ":\n" + LogTail(log));
  }
  return Status::DeadlineExceeded(std::string(what) + " not ready after " +
                                  std::to_string(deadline.count()) + " ms; " + log.string() +
                                  ":\n" + LogTail(log));
}

// A free port that is not already in `taken` (two back-to-back FreeLoopbackPort calls may return
// the same number, since each closes its socket), recorded in `taken`.
Result<uint16_t> DistinctPort(std::vector<uint16_t>& taken) {
  for (int i = 0; i < 20; ++i) {
    HW_ASSIGN_OR_RETURN(uint16_t port, FreeLoopbackPort());
    if (std::find(taken.begin(), taken.end(), port) == taken.end()) {
      taken.push_back(port);
      return port;
    }
  }
  return Status::Unavailable("no distinct free loopback port after 20 tries");
}

// End of the RESP value starting at pos, or nullopt while incomplete.
std::optional<size_t> RespEnd(std::string_view buf, size_t pos) {
  if (pos >= buf.size()) return std::nullopt;
  size_t crlf = buf.find("\r\n", pos);
  if (crlf == std::string_view::npos) return std::nullopt;
  const char type = buf[pos];
  if (type != '$' && type != '*') return crlf + 2;  // + - : and anything unexpected: one line
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(buf.data() + pos + 1, buf.data() + crlf, n);
  if (ec != std::errc()) return crlf + 2;
  if (n < 0) return crlf + 2;  // null bulk string or array
  size_t end = crlf + 2;
  if (type == '$') {
    end += static_cast<size_t>(n) + 2;
    return end <= buf.size() ? std::optional<size_t>(end) : std::nullopt;
  }
  for (int64_t i = 0; i < n; ++i) {
    std::optional<size_t> next = RespEnd(buf, end);
    if (!next) return std::nullopt;
    end = *next;
  }
  return end;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void Append(std::vector<std::string>& argv, std::initializer_list<std::string> more) {
  argv.insert(argv.end(), more);
}

// What every redis-server started here shares: loopback only, no persistence, in the foreground,
// logging to dir/redis.log.
std::vector<std::string> RedisArgv(uint16_t port, const fs::path& dir) {
  std::vector<std::string> argv = {"redis-server"};
  Append(argv, {"--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir.string()});
  Append(argv, {"--save", "", "--appendonly", "no", "--daemonize", "no"});
  Append(argv, {"--logfile", (dir / "redis.log").string()});
  // DEBUG SLEEP makes a server slower than a client's timeout (Redis 7 refuses DEBUG by default).
  Append(argv, {"--enable-debug-command", "local"});
  return argv;
}

bool RedisAnswersPing(uint16_t port) {
  Result<std::string> reply = RedisRawCommand(port, {"PING"}, milliseconds(1000));
  return reply.ok() && (StartsWith(*reply, "+PONG") || StartsWith(*reply, "-NOAUTH"));
}

}  // namespace

Result<std::string> RedisRawCommand(uint16_t port, const std::vector<std::string>& argv,
                                    milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("socket", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string where = "redis 127.0.0.1:" + std::to_string(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::IoError("connect " + where, errno);
  }
  std::string request = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& arg : argv) {
    request += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  std::string_view left = request;
  while (!left.empty()) {
    ssize_t n = ::send(fd, left.data(), left.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("send " + where, errno);
    left.remove_prefix(static_cast<size_t>(n));
  }
  std::string reply;
  char buf[4096];
  while (!RespEnd(reply, 0)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Status::DeadlineExceeded("no complete reply from " + where);
    }
    if (n < 0) return Status::IoError("recv " + where, errno);
    if (n == 0) return Status::Unavailable(where + " closed the connection; got: " + reply);
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

// ---------------------------------------------------------------------------------------------
// RedisServer

Result<std::unique_ptr<RedisServer>> RedisServer::Start(const RedisOptions& options) {
  HW_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  Status last;
  std::vector<uint16_t> tried;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    HW_ASSIGN_OR_RETURN(uint16_t port, DistinctPort(tried));
    std::unique_ptr<RedisServer> server(new RedisServer(std::move(dir), options, port));
    last = server->Launch();
    if (last.ok()) return server;
    dir = std::move(server->dir_);
    if (last.code() != StatusCode::kUnavailable) break;  // only an early exit may be a port race
  }
  return last;
}

RedisServer::~RedisServer() {
  if (proc_) proc_->Stop();
}

std::string RedisServer::url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

Status RedisServer::Launch() {
  const fs::path log = dir_.path() / "redis.log";
  SubprocessOptions opts;
  opts.argv = RedisArgv(port_, dir_.path());
  if (!options_.requirepass.empty()) {
    Append(opts.argv, {"--requirepass", options_.requirepass});
  }
  if (!options_.acl_user.empty()) {
    // A multi-word config directive works as consecutive arguments.
    Append(opts.argv,
           {"--user", options_.acl_user, "on", ">" + options_.acl_password, "~*", "&*", "+@all"});
  }
  // Start-up errors (bad arguments) go to stdout before the log file is opened.
  opts.stdout_path = opts.stderr_path = dir_.path() / "redis.out";
  HW_ASSIGN_OR_RETURN(Subprocess proc, Subprocess::Start(std::move(opts)));
  Readiness r = AwaitReady(
      proc, [port = port_] { return RedisAnswersPing(port); }, kRedisReady);
  if (r != Readiness::kReady) {
    proc.Stop();
    return NotReady(r, proc, "redis-server on port " + std::to_string(port_), kRedisReady,
                    fs::exists(log) ? log : dir_.path() / "redis.out");
  }
  proc_.emplace(std::move(proc));
  return Status::Ok();
}

void RedisServer::Kill() {
  if (!proc_) return;
  proc_->Signal(SIGKILL);
  proc_->Stop();  // only reaps: the process is already dying
  proc_.reset();
}

Status RedisServer::Restart() {
  if (proc_) {
    proc_->Stop();
    proc_.reset();
  }
  return Launch();
}

// ---------------------------------------------------------------------------------------------
// RedisCluster

Result<std::unique_ptr<RedisCluster>> RedisCluster::Start(int masters) {
  if (masters < 3) {
    return Status::InvalidArgument("RedisCluster needs at least 3 masters, got " +
                                   std::to_string(masters));
  }
  HW_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  std::unique_ptr<RedisCluster> cluster(new RedisCluster(std::move(dir)));
  std::vector<uint16_t> taken;

  for (int i = 0; i < masters; ++i) {
    Status last;
    for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
      HW_ASSIGN_OR_RETURN(uint16_t port, DistinctPort(taken));
      HW_ASSIGN_OR_RETURN(uint16_t bus_port, DistinctPort(taken));
      // A fresh folder per node: an old nodes.conf would bring back an old cluster.
      const fs::path node_dir = cluster->dir_.Sub(std::to_string(port));
      const fs::path log = node_dir / "redis.log";
      SubprocessOptions opts;
      opts.argv = RedisArgv(port, node_dir);
      Append(opts.argv, {"--cluster-enabled", "yes", "--cluster-port", std::to_string(bus_port),
                         "--cluster-config-file", (node_dir / "nodes.conf").string(),
                         "--cluster-node-timeout", "2000"});
      opts.stdout_path = opts.stderr_path = node_dir / "redis.out";
      const std::vector<std::string> argv = opts.argv;
      HW_ASSIGN_OR_RETURN(Subprocess proc, Subprocess::Start(std::move(opts)));
      Readiness r = AwaitReady(
          proc, [port] { return RedisAnswersPing(port); }, kRedisReady);
      if (r == Readiness::kReady) {
        cluster->ports_.push_back(port);
        cluster->nodes_.push_back(std::move(proc));
        cluster->argvs_.push_back(argv);
        last = Status::Ok();
        break;
      }
      proc.Stop();
      last = NotReady(r, proc, "cluster node on port " + std::to_string(port), kRedisReady, log);
      if (last.code() != StatusCode::kUnavailable) break;
    }
    HW_RETURN_IF_ERROR(last);
  }

  std::vector<std::string> create = {"redis-cli", "--cluster", "create"};
  for (uint16_t port : cluster->ports_) create.push_back("127.0.0.1:" + std::to_string(port));
  create.insert(create.end(), {"--cluster-replicas", "0", "--cluster-yes"});
  std::string output;
  HW_ASSIGN_OR_RETURN(int code, RunCommand(create, &output, milliseconds(60'000)));
  // redis-cli can exit 0 after printing an error, so the success line is checked too.
  if (code != 0 || output.find("All 16384 slots covered") == std::string::npos) {
    return Status::Unavailable("redis-cli --cluster create exited " + std::to_string(code) + ":\n" +
                               output);
  }

  const milliseconds deadline(10'000);
  std::string last_info;
  bool ok = WaitFor(
      [&] {
        for (uint16_t port : cluster->ports_) {
          Result<std::string> info = RedisRawCommand(port, {"CLUSTER", "INFO"});
          if (!info.ok() || info->find("cluster_state:ok") == std::string::npos) {
            last_info = info.ok() ? *info : info.status().ToString();
            return false;
          }
        }
        return true;
      },
      deadline);
  if (!ok) {
    return Status::DeadlineExceeded(
        "cluster_state:ok not reached on all nodes within 10 s; last:\n" + last_info);
  }
  return cluster;
}

void RedisCluster::KillNode(size_t i) {
  nodes_.at(i).Signal(SIGKILL);
  nodes_.at(i).Stop();  // only reaps: the process is already dying
}

Status RedisCluster::RestartNode(size_t i) {
  nodes_.at(i).Stop();
  const uint16_t port = ports_.at(i);
  const fs::path node_dir = dir_.path() / std::to_string(port);
  SubprocessOptions opts;
  opts.argv = argvs_.at(i);
  opts.stdout_path = opts.stderr_path = node_dir / "redis.out";
  HW_ASSIGN_OR_RETURN(Subprocess proc, Subprocess::Start(std::move(opts)));
  Readiness r = AwaitReady(
      proc, [port] { return RedisAnswersPing(port); }, kRedisReady);
  if (r != Readiness::kReady) {
    return NotReady(r, proc, "cluster node on port " + std::to_string(port), kRedisReady,
                    node_dir / "redis.log");
  }
  nodes_[i] = std::move(proc);
  const bool ok = WaitFor(
      [&] {
        for (uint16_t p : ports_) {
          Result<std::string> info = RedisRawCommand(p, {"CLUSTER", "INFO"});
          if (!info.ok() || info->find("cluster_state:ok") == std::string::npos) return false;
        }
        return true;
      },
      milliseconds(10'000));
  if (!ok) return Status::DeadlineExceeded("cluster_state:ok not back within 10 s");
  return Status::Ok();
}

RedisCluster::~RedisCluster() {
  // SIGTERM to each first, then wait, so the nodes shut down in parallel rather than one by one.
  for (Subprocess& node : nodes_) node.Signal(SIGTERM);
  for (Subprocess& node : nodes_) node.Stop();
}

std::vector<pid_t> RedisCluster::pids() const {
  std::vector<pid_t> pids;
  for (const Subprocess& node : nodes_) pids.push_back(node.pid());
  return pids;
}

// ---------------------------------------------------------------------------------------------
// CarbonCache

Result<std::unique_ptr<CarbonCache>> CarbonCache::Start(const CarbonOptions& options) {
  HW_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  std::unique_ptr<CarbonCache> carbon(new CarbonCache(std::move(dir), options));
  Status last;
  std::vector<uint16_t> taken;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    HW_ASSIGN_OR_RETURN(carbon->line_port_, DistinctPort(taken));
    HW_ASSIGN_OR_RETURN(carbon->pickle_port_, DistinctPort(taken));
    HW_ASSIGN_OR_RETURN(carbon->query_port_, DistinctPort(taken));
    last = carbon->Launch();
    if (last.ok()) return carbon;
    if (last.code() != StatusCode::kUnavailable) break;
  }
  return last;
}

CarbonCache::~CarbonCache() {
  if (proc_) proc_->Stop();
}

void CarbonCache::Kill() {
  if (!proc_) return;
  proc_->Signal(SIGKILL);
  proc_->Wait(milliseconds(10'000));
  proc_.reset();
}

Status CarbonCache::Restart() {
  if (proc_) {
    proc_->Stop();
    proc_.reset();
  }
  return Launch();
}

Status CarbonCache::Launch() {
  const fs::path& w = dir_.path();
  const fs::path conf = w / "conf" / "carbon.conf";
  const fs::path out = w / "carbon.out";
  // USER must be empty (Debian's default config setuids to _graphite). Unlimited rates and cache,
  // so tests never wait on carbon's throttles; no self-metrics and no tags, so whisper_dir() holds
  // only what a test sent.
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"USER", ""},
      {"STORAGE_DIR", (w / "storage").string()},
      {"LOCAL_DATA_DIR", whisper_dir().string()},
      {"LOG_DIR", (w / "log").string()},
      {"PID_DIR", w.string()},
      {"MAX_CACHE_SIZE", "inf"},
      {"MAX_UPDATES_PER_SECOND", "inf"},
      {"MAX_CREATES_PER_MINUTE", "inf"},
      {"LINE_RECEIVER_INTERFACE", options_.interface},
      {"LINE_RECEIVER_PORT", std::to_string(line_port_)},
      {"PICKLE_RECEIVER_INTERFACE", options_.interface},
      {"PICKLE_RECEIVER_PORT", std::to_string(pickle_port_)},
      {"CACHE_QUERY_INTERFACE", options_.interface},
      {"CACHE_QUERY_PORT", std::to_string(query_port_)},
      {"ENABLE_UDP_LISTENER", "False"},
      {"CACHE_WRITE_STRATEGY", "naive"},
      {"WHISPER_AUTOFLUSH", "True"},
      {"ENABLE_TAGS", "False"},
      {"CARBON_METRIC_INTERVAL", "0"},
      {"LOG_UPDATES", "True"},
      {"LOG_CREATES", "True"},
      {"LOG_LISTENER_CONN_SUCCESS", "False"},
  };
  std::string config = "[cache]\n";
  for (const auto& [key, value] : settings) config += key + " = " + value + "\n";
  HW_RETURN_IF_ERROR(WriteFile(conf, config));
  // carbon reads storage-schemas.conf from the folder of --config and refuses to start without it.
  HW_RETURN_IF_ERROR(WriteFile(w / "conf" / "storage-schemas.conf",
                               "[default]\npattern = .*\nretentions = 10s:1d\n"));
  std::error_code ec;
  fs::create_directories(whisper_dir(), ec);
  fs::create_directories(w / "log", ec);
  // A pidfile left by a failed attempt would make twistd refuse to start.
  fs::remove(w / "carbon-cache-a.pid", ec);

  SubprocessOptions opts;
  // The entry point's shebang is /usr/bin/python3, which has carbon; the pyenv python3 does not.
  opts.argv = {"/usr/bin/carbon-cache", "--config=" + conf.string(), "--nodaemon", "start"};
  opts.stdout_path = opts.stderr_path = out;
  HW_ASSIGN_OR_RETURN(Subprocess proc, Subprocess::Start(std::move(opts)));
  const std::vector<uint16_t> ports = {query_port_, line_port_, pickle_port_};  // opening order
  Readiness r = AwaitReady(
      proc,
      [&ports, this] {
        return std::all_of(ports.begin(), ports.end(),
                           [this](uint16_t p) { return TcpConnectsTo(options_.interface, p); });
      },
      kCarbonReady);
  if (r != Readiness::kReady) {
    proc.Stop();
    return NotReady(r, proc, "carbon-cache", kCarbonReady, out);
  }
  proc_.emplace(std::move(proc));
  return Status::Ok();
}

fs::path CarbonCache::WhisperFile(std::string_view metric_path) const {
  std::string rel(metric_path);
  std::replace(rel.begin(), rel.end(), '.', '/');
  return whisper_dir() / (rel + ".wsp");
}

namespace {

// Reads `"key" : <integer>` from whisper-fetch's fixed JSON layout.
std::optional<int64_t> JsonInt(std::string_view json, std::string_view key) {
  size_t pos = json.find("\"" + std::string(key) + "\"");
  if (pos == std::string_view::npos) return std::nullopt;
  pos = json.find(':', pos);
  if (pos == std::string_view::npos) return std::nullopt;
  pos = json.find_first_not_of(" \t\r\n", pos + 1);
  if (pos == std::string_view::npos) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(json.data() + pos, json.data() + json.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

}  // namespace

Result<std::vector<std::pair<int64_t, std::optional<double>>>> CarbonCache::Fetch(
    std::string_view metric_path, int64_t from_s, int64_t until_s) const {
  return FetchFile(WhisperFile(metric_path), from_s, until_s);
}

Result<std::vector<std::pair<int64_t, std::optional<double>>>> CarbonCache::FetchFile(
    const fs::path& file, int64_t from_s, int64_t until_s) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return Status::NotFound(file.string() + " does not exist (yet)");
  std::string out;
  HW_ASSIGN_OR_RETURN(
      int code, RunCommand({"/usr/bin/whisper-fetch", "--json", "--from=" + std::to_string(from_s),
                            "--until=" + std::to_string(until_s), file.string()},
                           &out, milliseconds(30'000)));
  if (code != 0) {
    return Status::Internal("whisper-fetch " + file.string() + " exited " + std::to_string(code) +
                            ": " + out);
  }
  // {"start" : S, "end" : E, "step" : 10, "values" : [1.5, 2.5, null]}; values[i] is at S + i*step.
  std::optional<int64_t> start = JsonInt(out, "start");
  std::optional<int64_t> step = JsonInt(out, "step");
  size_t open = out.find('[');
  size_t close = out.find(']', open == std::string::npos ? 0 : open);
  if (!start || !step || open == std::string::npos || close == std::string::npos) {
    return Status::DataLoss("unexpected whisper-fetch output: " + out);
  }
  std::vector<std::pair<int64_t, std::optional<double>>> points;
  std::string_view list = std::string_view(out).substr(open + 1, close - open - 1);
  int64_t t = *start;
  if (strings::Trim(list).empty()) return points;
  for (std::string_view raw : strings::Split(list, ',')) {
    const std::string_view item = strings::Trim(raw);
    if (item == "null") {
      points.emplace_back(t, std::nullopt);
    } else if (std::optional<double> v = strings::ParseNumber<double>(item)) {
      points.emplace_back(t, *v);
    } else {
      return Status::DataLoss("bad value '" + std::string(item) + "' from whisper-fetch");
    }
    t += *step;
  }
  return points;
}

// ---------------------------------------------------------------------------------------------
// SmtpServer

Result<std::unique_ptr<SmtpServer>> SmtpServer::Start(const SmtpOptions& options) {
  HW_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  std::unique_ptr<SmtpServer> smtp(new SmtpServer(std::move(dir)));
  const fs::path& d = smtp->dir_.path();
  const bool tls = options.tls || options.require_tls;
  if (tls) {
    // The SAN IP:127.0.0.1 lets a client verify the certificate against the URL's host.
    std::string out;
    HW_ASSIGN_OR_RETURN(
        int code, RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                              (d / "key.pem").string(), "-out", (d / "cert.pem").string(), "-days",
                              "2", "-subj", "/CN=localhost", "-addext",
                              "subjectAltName=IP:127.0.0.1,DNS:localhost"},
                             &out, milliseconds(30'000)));
    if (code != 0) {
      return Status::Internal("openssl req exited " + std::to_string(code) + ": " + out);
    }
    smtp->cert_path_ = d / "cert.pem";
  }

  const fs::path log = d / "smtp.log";
  Status last;
  std::vector<uint16_t> taken;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    HW_ASSIGN_OR_RETURN(smtp->port_, DistinctPort(taken));
    SubprocessOptions opts;
    // Debian's python3 has aiosmtpd; the pyenv python3 first on PATH does not.
    opts.argv = {"/usr/bin/python3", HW_SOURCE_DIR "/common/testing/smtp_fixture.py",
                 "--port",           std::to_string(smtp->port_),
                 "--outdir",         smtp->outdir().string()};
    if (!options.auth.empty()) Append(opts.argv, {"--auth", options.auth});
    if (options.fail_code != 0) {
      Append(opts.argv, {"--fail-code", std::to_string(options.fail_code), "--fail-at",
                         options.fail_at, "--fail-times", std::to_string(options.fail_times)});
    }
    if (tls) {
      Append(opts.argv,
             {"--tls-cert", (d / "cert.pem").string(), "--tls-key", (d / "key.pem").string()});
    }
    if (options.require_tls) opts.argv.push_back("--require-tls");
    opts.stdout_path = opts.stderr_path = log;
    // Unbuffered, so the log is complete when a test reads it after a failure.
    opts.env_extra = {"PYTHONUNBUFFERED=1"};
    HW_ASSIGN_OR_RETURN(Subprocess proc, Subprocess::Start(std::move(opts)));
    Readiness r = AwaitReady(
        proc, [port = smtp->port_] { return WaitForTcpPort(port, milliseconds(0)); }, kSmtpReady);
    if (r == Readiness::kReady) {
      smtp->proc_.emplace(std::move(proc));
      return smtp;
    }
    proc.Stop();
    last = NotReady(r, proc, "smtp_fixture.py", kSmtpReady, log);
    if (last.code() != StatusCode::kUnavailable) break;
  }
  return last;
}

SmtpServer::~SmtpServer() {
  if (proc_) proc_->Stop();
}

std::string SmtpServer::url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

size_t SmtpServer::MessageCount() const {
  std::error_code ec;
  size_t n = 0;
  for (fs::directory_iterator it(outdir(), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".eml") ++n;
  }
  return n;
}

Result<std::vector<std::string>> SmtpServer::ReadAll(std::string_view ext) const {
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(outdir(), ec), end; !ec && it != end; it.increment(ec)) {
    // Only messages whose .eml is in place: the .env is written first, the .eml renamed in last.
    if (it->path().extension() == ".eml") files.push_back(it->path());
  }
  if (ec) return Status::IoError("listing " + outdir().string(), ec.value());
  std::sort(files.begin(), files.end());
  std::vector<std::string> contents;
  for (fs::path& f : files) {
    f.replace_extension(ext);
    HW_ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    contents.push_back(std::move(text));
  }
  return contents;
}

Result<std::vector<std::string>> SmtpServer::Messages() const { return ReadAll(".eml"); }
Result<std::vector<std::string>> SmtpServer::Envelopes() const { return ReadAll(".env"); }

}  // namespace hw::testing
