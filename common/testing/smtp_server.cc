// A real SMTP server (aiosmtpd) for tests (servers.h), and the messages it stored.
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
constexpr milliseconds kSmtpReady(10'000);
}  // namespace

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
    for (const std::string& r : options.refuse_rcpt) Append(opts.argv, {"--refuse-rcpt", r});
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
