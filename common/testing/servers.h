// Test-only: real servers (redis-server, a Redis Cluster, carbon-cache, an SMTP server) on loopback
// ports chosen at run time. Each keeps its files in its own TempDir and is stopped by its own PID
// when the object is destroyed. Typical start-up times: common/testing/README.md.
//
// Start() returns once the server answers on its port(s), or an error that carries the tail of the
// server's log. A start that loses the race for a port chosen by FreeLoopbackPort() is retried
// with new ports. Not thread-safe: one test thread owns each object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status/status.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"

namespace hw::testing {

struct RedisOptions {
  std::string requirepass;  // non-empty: the default user needs AUTH <requirepass>
  // Non-empty acl_user: an extra ACL user with all permissions, AUTH <acl_user> <acl_password>.
  std::string acl_user, acl_password;
};

// One redis-server without persistence (--save '' --appendonly no) in its own directory.
class RedisServer {
 public:
  // Ready when a raw PING gets +PONG (or -NOAUTH with a password); deadline 10 s.
  static Result<std::unique_ptr<RedisServer>> Start(const RedisOptions& options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  std::string url() const;  // redis://127.0.0.1:P (no credentials)
  const std::filesystem::path& dir() const { return dir_.path(); }  // holds redis.log

  // SIGKILL, then reap: a crash, for testing what clients do when Redis vanishes.
  void Kill();
  // Starts again on the same port and directory (stopping it first if it still runs). The data is
  // gone: there is no persistence.
  Status Restart();

 private:
  RedisServer(TempDir dir, RedisOptions options, uint16_t port)
      : dir_(std::move(dir)), options_(std::move(options)), port_(port) {}
  Status Launch();

  TempDir dir_;
  RedisOptions options_;
  uint16_t port_;
  std::optional<Subprocess> proc_;  // empty after Kill()
};

// A Redis Cluster of `masters` nodes and no replicas, created with `redis-cli --cluster create`.
// Each node has an explicit --cluster-port (the default data port + 10000 may not exist).
class RedisCluster {
 public:
  // Ready when every node reports cluster_state:ok. Needs masters >= 3 (a redis-cli rule). Takes a
  // few seconds: `--cluster create` sleeps while the nodes join.
  static Result<std::unique_ptr<RedisCluster>> Start(int masters = 3);
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  std::vector<uint16_t> ports() const { return ports_; }
  std::vector<pid_t> pids() const;
  // SIGKILL node i (a crash), then reap it.
  void KillNode(size_t i);
  // Starts node i again with the same ports and nodes.conf (so it rejoins with its slots, and
  // without its data: no persistence) and waits for cluster_state:ok on every node (10 s).
  Status RestartNode(size_t i);
  const std::filesystem::path& dir() const { return dir_.path(); }  // one subfolder per node port

 private:
  explicit RedisCluster(TempDir dir) : dir_(std::move(dir)) {}

  TempDir dir_;
  std::vector<uint16_t> ports_;
  std::vector<Subprocess> nodes_;
  std::vector<std::vector<std::string>> argvs_;  // per node, for RestartNode
};

// Sends one command to a Redis on 127.0.0.1:port as a RESP array (no quoting issues) and returns
// the raw reply, e.g. "+PONG\r\n" or "$12\r\ncluster_state:ok...\r\n". For readiness checks and
// tests that must not depend on a client library.
Result<std::string> RedisRawCommand(uint16_t port, const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

struct CarbonOptions {
  std::string interface = "127.0.0.1";  // any 127.0.0.0/8 address: two caches on .1 and .2
};

// carbon-cache (graphite-carbon) in the foreground: plaintext line, pickle and cache-query
// receivers on loopback, whisper files under whisper_dir(), retention 10s:1d for every metric.
class CarbonCache {
 public:
  // Ready when all three ports accept connections; deadline 20 s.
  static Result<std::unique_ptr<CarbonCache>> Start(const CarbonOptions& options = {});
  ~CarbonCache();
  CarbonCache(const CarbonCache&) = delete;
  CarbonCache& operator=(const CarbonCache&) = delete;

  uint16_t line_port() const { return line_port_; }
  uint16_t pickle_port() const { return pickle_port_; }
  uint16_t query_port() const { return query_port_; }
  std::filesystem::path whisper_dir() const { return dir_.path() / "storage" / "whisper"; }
  // "a.b.c" -> whisper_dir()/a/b/c.wsp
  std::filesystem::path WhisperFile(std::string_view metric_path) const;
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  const std::filesystem::path& dir() const { return dir_.path(); }  // conf/, carbon.out
  const std::string& interface() const { return options_.interface; }

  // SIGKILL, then reap: a crash (whatever carbon held in its cache and socket buffers is lost).
  void Kill();
  // Starts again on the same ports and directories (stopping it first if it still runs).
  Status Restart();

  // Points of metric_path with from_s < t <= until_s (whisper-fetch's --from is exclusive), one per
  // 10 s step, nullopt where nothing was written. NotFound until carbon has created the .wsp (about
  // 1 s after the first line arrives: its writer sleeps 1 s when idle).
  Result<std::vector<std::pair<int64_t, std::optional<double>>>> Fetch(std::string_view metric_path,
                                                                       int64_t from_s,
                                                                       int64_t until_s) const;
  // The same for a .wsp file given by path (tagged series live under _tagged/ by hash).
  static Result<std::vector<std::pair<int64_t, std::optional<double>>>> FetchFile(
      const std::filesystem::path& file, int64_t from_s, int64_t until_s);

 private:
  CarbonCache(TempDir dir, CarbonOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}
  Status Launch();

  TempDir dir_;
  CarbonOptions options_;
  uint16_t line_port_ = 0, pickle_port_ = 0, query_port_ = 0;
  std::optional<Subprocess> proc_;
};

struct SmtpOptions {
  std::string auth;   // "user:pass": AUTH PLAIN/LOGIN required before MAIL, allowed without TLS
  int fail_code = 0;  // e.g. 451 or 550: reply with this code ...
  std::string fail_at = "rcpt";  // ... at RCPT TO or after DATA ...
  int fail_times = 0;            // ... for the first N transactions (-1: always)
  // "ADDRESS=CODE[xTIMES]": RCPT TO that one address gets CODE (the first TIMES times, or always)
  // while the transaction's other recipients are accepted.
  std::vector<std::string> refuse_rcpt;
  bool tls = false;          // STARTTLS with a self-signed cert for 127.0.0.1 (cert_path())
  bool require_tls = false;  // MAIL before STARTTLS gets 530; implies tls
};

// An aiosmtpd server (common/testing/smtp_fixture.py, run by /usr/bin/python3) that saves every
// accepted message to outdir()/NNNN.eml (raw DATA) and NNNN.env (from=, to=, auth=, tls= lines).
class SmtpServer {
 public:
  // Ready when the port accepts connections; deadline 10 s.
  static Result<std::unique_ptr<SmtpServer>> Start(const SmtpOptions& options = {});
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  uint16_t port() const { return port_; }
  std::filesystem::path outdir() const { return dir_.path() / "mail"; }
  std::string url() const;  // smtp://127.0.0.1:P
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  // The self-signed certificate (PEM) when options.tls; empty otherwise. Clients may trust it.
  std::filesystem::path cert_path() const { return cert_path_; }

  // Number of .eml files: a message counts once it is completely written.
  size_t MessageCount() const;
  // Contents of the .eml files, sorted by name (= arrival order).
  Result<std::vector<std::string>> Messages() const;
  // Contents of the matching .env files, in the same order as Messages().
  Result<std::vector<std::string>> Envelopes() const;

 private:
  explicit SmtpServer(TempDir dir) : dir_(std::move(dir)) {}
  Result<std::vector<std::string>> ReadAll(std::string_view ext) const;

  TempDir dir_;
  uint16_t port_ = 0;
  std::filesystem::path cert_path_;
  std::optional<Subprocess> proc_;
};

}  // namespace hw::testing
