// The network and process ends of delivery: SMTP and HTTP through libcurl, and the exec receiver's
// child process. Each sender belongs to one worker thread (a libcurl easy handle is not shared);
// they block for at most their timeout, or until `abort` says delivery is stopping.
//
// What is retried (docs/alerter-delivery.md, Retries): SMTP 4xx replies and network errors are
// retried, 5xx replies are not. HTTP follows HTTP's meaning instead (and Alertmanager's own webhook
// notifier): 5xx, 408, 429 and network errors are retried, other 4xx are not. An exec command that
// ran and failed (or hung and was killed) is not retried: a recovery action should not repeat on
// its own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alerter/notification.h"
#include "common/status/status.h"

namespace hw::alerter::delivery {

struct SendOutcome {
  enum Result { kSent, kRetry, kFailed };
  SendOutcome() = default;
  SendOutcome(Result r, std::string d, std::vector<std::string> retry = {}, bool refused = false)
      : result(r),
        detail(std::move(d)),
        retry_recipients(std::move(retry)),
        some_refused(refused) {}
  Result result = kSent;
  std::string detail;  // for the log: the server's code and curl's message, or the exit status
  // Mail only: recipients the server deferred (4xx at RCPT TO) while it took or refused the
  // others. Non-empty with kSent (sent to the rest) or kRetry (nobody took it yet): the job is
  // to be retried for these recipients alone, so nobody gets the mail twice. Recipients refused
  // for good (5xx) are never retried; `detail` names them.
  std::vector<std::string> retry_recipients;
  bool some_refused = false;  // mail only: a recipient refused for good (5xx) was dropped
};

// True (stop now) when delivery's Stop deadline has passed.
using AbortFn = std::function<bool()>;

// True for 127.0.0.0/8, ::1 and localhost: the only hosts mail may go to without TLS.
bool IsLoopbackHost(std::string_view host);
// The host of "scheme://[user@]host[:port][/path]" ("::1" for "[::1]").
std::string UrlHost(std::string_view url);

// Initialises libcurl once per process (safe to call from any thread, any number of times).
void InitCurlOnce();

class SmtpSender {
 public:
  // Checks the URL (smtp:// or smtps://) and the addresses, and reads the password now, so a bad
  // config fails at start-up rather than at the first alert.
  static Result<std::unique_ptr<SmtpSender>> Create(const SmtpConfig& config);
  ~SmtpSender();
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  // One transaction: MAIL FROM, RCPT TO each recipient, DATA (libcurl dot-stuffs it). A
  // recipient the server refuses does not stop the mail to the others (an operator's stale
  // address must not silence the whole team): the mail is sent to every recipient it accepted,
  // a 5xx recipient is reported in `detail` and dropped, and 4xx ones come back in
  // retry_recipients.
  SendOutcome Send(const std::vector<std::string>& recipients, std::string_view message,
                   const AbortFn& abort);

 private:
  SmtpSender() = default;
  SmtpConfig config_;
  std::string password_;
  bool tls_required_ = true;
  void* curl_ = nullptr;  // CURL*, reused so a connection can be kept between messages
};

class HttpSender {
 public:
  explicit HttpSender(std::chrono::milliseconds timeout);
  ~HttpSender();
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  // POST body as application/json; 2xx is success.
  SendOutcome Post(const std::string& url, std::string_view body, const AbortFn& abort);

 private:
  std::chrono::milliseconds timeout_;
  void* curl_ = nullptr;  // CURL*
};

struct ExecResult {
  int exit_code = -1;      // 128+signal when killed by one; -1 if it could not be started
  bool timed_out = false;  // killed (its whole process group) at the timeout
  std::string output;      // stdout and stderr together, at most max_output bytes
  std::string error;       // why it could not be started
};

// Runs `/bin/sh -c command` in its own process group with `input` on stdin and the environment
// plus `env` ("K=V"). At the timeout (or when abort() turns true) the whole group is killed with
// SIGKILL and the child reaped: no zombie, no orphan left behind.
ExecResult RunCommand(const std::string& command, std::string_view input,
                      const std::vector<std::string>& env, std::chrono::milliseconds timeout,
                      const AbortFn& abort, size_t max_output = 64 << 10);

}  // namespace hw::alerter::delivery
