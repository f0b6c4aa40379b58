#include "alerter/delivery/senders.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "alerter/delivery/mail_format.h"
#include "common/io/file_io.h"
#include "common/strings/strings.h"

extern char** environ;

namespace hw::alerter::delivery {
namespace {

using Clock = std::chrono::steady_clock;

int AbortCallback(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const AbortFn*>(p);
  return (*abort && (*abort)()) ? 1 : 0;
}

struct ReadState {
  std::string_view data;
};

size_t ReadCallback(char* buf, size_t size, size_t n, void* p) {
  auto* st = static_cast<ReadState*>(p);
  const size_t len = std::min(size * n, st->data.size());
  std::memcpy(buf, st->data.data(), len);
  st->data.remove_prefix(len);
  return len;
}

size_t KeepHead(char* buf, size_t size, size_t n, void* p) {
  auto* out = static_cast<std::string*>(p);
  if (out->size() < 512) out->append(buf, std::min(size * n, 512 - out->size()));
  return size * n;
}

// The reply to each RCPT TO, read from libcurl's protocol trace: libcurl reports only the last
// failing code, and with CURLOPT_MAIL_RCPT_ALLLOWFAILS it goes on past refused recipients
// without saying which they were. SMTP without PIPELINING (libcurl does not pipeline) answers
// each command before the next is sent, so the first final reply line after "RCPT TO:<a>" is a's.
struct RcptTrace {
  std::string pending;  // the address of the RCPT TO awaiting its reply
  std::vector<std::pair<std::string, int>> replies;  // (address, code)
};

int TraceCallback(CURL*, curl_infotype type, char* data, size_t size, void* p) {
  auto* t = static_cast<RcptTrace*>(p);
  std::string_view text(data, size);
  if (type == CURLINFO_HEADER_OUT) {
    constexpr std::string_view kRcpt = "RCPT TO:<";  // as libcurl writes it
    if (text.starts_with(kRcpt)) {
      text.remove_prefix(kRcpt.size());
      t->pending = std::string(text.substr(0, text.find('>')));
    } else {
      t->pending.clear();
    }
  } else if (type == CURLINFO_HEADER_IN && !t->pending.empty()) {
    // "250-..." continues a multi-line reply; "250 ..." (or a bare code) ends it.
    if (text.size() >= 3 && (text.size() == 3 || text[3] != '-')) {
      if (auto code = strings::ParseU64(text.substr(0, 3))) {
        t->replies.emplace_back(std::move(t->pending), static_cast<int>(*code));
      }
      t->pending.clear();
    }
  }
  return 0;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

}  // namespace

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string UrlHost(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  std::string_view rest = url.substr(start);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? rest.npos : close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 as a dotted quad.
  const std::vector<std::string_view> parts = strings::Split(host, '.');
  if (parts.size() != 4 || parts[0] != "127") return false;
  return std::all_of(parts.begin(), parts.end(), [](std::string_view p) {
    const auto v = strings::ParseU64(p);
    return v && *v <= 255;
  });
}

Result<std::unique_ptr<SmtpSender>> SmtpSender::Create(const SmtpConfig& config) {
  InitCurlOnce();
  const bool smtps = config.url.rfind("smtps://", 0) == 0;
  if (!smtps && config.url.rfind("smtp://", 0) != 0) {
    return Status::InvalidArgument("alerter.smtp.url: must start with smtp:// or smtps://, got \"" +
                                   config.url + "\"");
  }
  if (UrlHost(config.url).empty()) {
    return Status::InvalidArgument("alerter.smtp.url: no host in \"" + config.url + "\"");
  }
  if (!IsPlainAddress(config.from)) {
    return Status::InvalidArgument("alerter.smtp.from: not a plain address: \"" + config.from +
                                   "\"");
  }
  std::unique_ptr<SmtpSender> s(new SmtpSender());
  s->config_ = config;
  if (!config.password.empty()) {
    HW_ASSIGN_OR_RETURN(s->password_, consumer::LoadSecret(config.password));
  }
  // smtps:// is TLS from the first byte; smtp:// must upgrade with STARTTLS unless the server is
  // on this machine (a local relay, a test server).
  s->tls_required_ = !IsLoopbackHost(UrlHost(config.url));
  s->curl_ = curl_easy_init();
  if (s->curl_ == nullptr) return Status::Internal("curl_easy_init failed");
  return s;
}

SmtpSender::~SmtpSender() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

SendOutcome SmtpSender::Send(const std::vector<std::string>& recipients, std::string_view message,
                             const AbortFn& abort) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  Slist rcpt;
  for (const std::string& r : recipients) {
    rcpt.reset(curl_slist_append(rcpt.release(), ("<" + r + ">").c_str()));
  }
  ReadState read{message};
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string from = "<" + config_.from + ">";
  curl_easy_setopt(c, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  // Go on to DATA when at least one recipient was accepted (curl >= 7.69; spelled with three Ls
  // until 8.2, which kept that name as an alias).
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
  RcptTrace trace;
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, TraceCallback);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &trace);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadCallback);
  curl_easy_setopt(c, CURLOPT_READDATA, &read);
  curl_easy_setopt(c, CURLOPT_USE_SSL,
                   static_cast<long>(tls_required_ ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  if (!config_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, config_.ca_file.c_str());
  if (!config_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, AbortCallback);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &abort);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  size_t accepted = 0;
  std::vector<std::string> deferred;
  std::string refused;  // "a@b (550), c@d (553)"
  for (auto& [address, reply] : trace.replies) {
    if (reply >= 200 && reply < 300) {
      ++accepted;
    } else if (reply >= 400 && reply < 500) {
      deferred.push_back(std::move(address));
    } else {
      if (!refused.empty()) refused += ", ";
      refused += address + " (" + std::to_string(reply) + ")";
    }
  }
  std::string partial;
  if (!refused.empty()) partial += "; refused for good: " + refused;
  for (size_t i = 0; i < deferred.size(); ++i)
    partial += (i == 0 ? "; deferred: " : ", ") + deferred[i];
  if (rc == CURLE_OK) {
    return {SendOutcome::kSent, "SMTP " + std::to_string(code) + partial, std::move(deferred),
            !refused.empty()};
  }
  std::string detail = "SMTP " + std::to_string(code) + ": " +
                       (errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc)) + partial;
  // Every recipient was answered and none was taken: the deferred ones decide.
  if (accepted == 0 && trace.replies.size() == recipients.size()) {
    if (deferred.empty()) return {SendOutcome::kFailed, std::move(detail)};
    return {SendOutcome::kRetry, std::move(detail), std::move(deferred), !refused.empty()};
  }
  if (code >= 500 && code < 600) return {SendOutcome::kFailed, std::move(detail)};
  return {SendOutcome::kRetry, std::move(detail)};
}

HttpSender::HttpSender(std::chrono::milliseconds timeout) : timeout_(timeout) {
  InitCurlOnce();
  curl_ = curl_easy_init();
}

HttpSender::~HttpSender() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

SendOutcome HttpSender::Post(const std::string& url, std::string_view body, const AbortFn& abort) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) return {SendOutcome::kRetry, "curl_easy_init failed"};
  curl_easy_reset(c);
  Slist headers(curl_slist_append(nullptr, "Content-Type: application/json"));
  headers.reset(curl_slist_append(headers.release(), "Expect:"));  // no 100-continue round trip
  std::string response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hostwatch-alerter");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, KeepHead);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, AbortCallback);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &abort);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return {SendOutcome::kRetry,
            std::string("HTTP: ") + (errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc))};
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  std::string detail = "HTTP " + std::to_string(code);
  if (code >= 200 && code < 300) return {SendOutcome::kSent, std::move(detail)};
  // The receiver's own words, on one log line.
  for (char& ch : response) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  detail += ": " + std::string(strings::Trim(response));
  if (code >= 500 || code == 408 || code == 429) return {SendOutcome::kRetry, std::move(detail)};
  return {SendOutcome::kFailed, std::move(detail)};
}

namespace {

// Blocks SIGPIPE in this thread while it writes to a child's stdin (the child may exit without
// reading it), then discards a SIGPIPE raised meanwhile and restores the mask.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!sigismember(&old_, SIGPIPE)) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

}  // namespace

ExecResult RunCommand(const std::string& command, std::string_view input,
                      const std::vector<std::string>& env, std::chrono::milliseconds timeout,
                      const AbortFn& abort, size_t max_output) {
  ExecResult result;
  SigpipeGuard sigpipe;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  io::UniqueFd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  io::UniqueFd out_r(out[0]), out_w(out[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so a timeout kills the command and everything it started.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const std::string& kv : env) env_strings.push_back(kv);
  std::vector<char*> envp;
  for (std::string& kv : env_strings) envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::string sh = "sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  const int err = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    result.error = std::string("spawn /bin/sh: ") + std::strerror(err);
    return result;
  }
  in_r.Reset();
  out_w.Reset();
  fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  if (input.empty()) in_w.Reset();

  const auto deadline = Clock::now() + timeout;
  bool exited = false, out_eof = false;
  int status = 0;
  char buf[4096];
  auto drain = [&] {
    for (;;) {
      const ssize_t n = read(out_r.get(), buf, sizeof buf);
      if (n > 0) {
        if (result.output.size() < max_output) {
          result.output.append(buf, std::min<size_t>(n, max_output - result.output.size()));
        }
        continue;
      }
      if (n == 0) out_eof = true;
      return;
    }
  };
  while (!(exited && out_eof)) {
    if (!exited) {
      const pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) exited = true;
    }
    if (exited) {
      // A background child may still hold the pipe: read what is there and stop.
      drain();
      break;
    }
    const auto now = Clock::now();
    if (now >= deadline || (abort && abort())) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      exited = true;
      result.timed_out = true;
      drain();
      break;
    }
    pollfd fds[2];
    int nfds = 0;
    if (!out_eof) fds[nfds++] = {out_r.get(), POLLIN, 0};
    if (in_w.valid()) fds[nfds++] = {in_w.get(), POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    // Short polls: the child's exit is seen by waitpid, not by the pipes (a grandchild may hold
    // them open).
    const int wait_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 20));
    poll(fds, static_cast<nfds_t>(nfds), wait_ms);
    for (int i = 0; i < nfds; ++i) {
      if (fds[i].fd == out_r.get() && (fds[i].revents & (POLLIN | POLLHUP))) drain();
      if (in_w.valid() && fds[i].fd == in_w.get() && fds[i].revents != 0) {
        const ssize_t n = write(in_w.get(), input.data(), input.size());
        if (n > 0) input.remove_prefix(static_cast<size_t>(n));
        if (input.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) in_w.Reset();
      }
    }
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace hw::alerter::delivery
