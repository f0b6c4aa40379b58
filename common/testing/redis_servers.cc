// Real redis-server and Redis Cluster for tests (servers.h), and a raw RESP client for reading
// back.
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
#include "common/testing/server_start.h"
#include "common/testing/servers.h"
#include "common/testing/wait.h"

namespace hw::testing {

using namespace internal;  // NOLINT: the start helpers every server file shares
using std::chrono::milliseconds;
namespace fs = std::filesystem;

namespace {
constexpr milliseconds kRedisReady(10'000);

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

}  // namespace hw::testing
