// The persistent outbox: one file per (notification, channel) still to be sent.
//
//   <outbox_dir>/<name>.job      pending: written to <name>.job.tmp, fsynced, renamed, directory
//                                fsynced, so a job exists whole or not at all once Put returns OK
//   <outbox_dir>/sent/<name>.eml mails "sent" with no SMTP server configured (alerter.smtp.url
//   empty) <outbox_dir>/failed/<name>.job  refused for good (a 5xx, an exec that failed): kept for
//   a person
// sent/ and failed/ are pruned by age (Prune; delivery calls it with `outbox_keep`).
//
// A job file is a magic line, a CRC32C and length-prefixed fields; a file that fails the check
// (a disk fault; a crash cannot make one) is moved to failed/ with ".corrupt" and counted.
// Names are derived from the notification id and the channel, so enqueueing the same notification
// again after a crash (before Enqueue returned) replaces its jobs instead of doubling them.
//
// Stateless apart from the directory: safe to call from several threads as long as no two touch
// the same job at once (delivery: Put on the caller's thread, the rest on the channel's worker).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"

namespace hw::alerter::delivery {

enum class Channel : uint32_t { kMail = 1, kWebhook = 2, kAlertmanager = 3, kExec = 4 };
std::string_view ChannelName(Channel c);  // "mail", "webhook", "alertmanager", "exec"

struct OutboxJob {
  std::string name;  // file stem; empty for jobs that are never stored (Alertmanager re-posts)
  Channel channel = Channel::kMail;
  std::string receiver;
  std::string notification_id;
  std::string target;                   // URL or command; empty for mail
  std::vector<std::string> recipients;  // mail
  std::string summary;                  // the subject, for logs
  std::string payload;                  // the whole mail (CRLF), or the JSON body
  int64_t created_ms = 0;
};

std::string EncodeJob(const OutboxJob& job);
Result<OutboxJob> DecodeJob(std::string_view bytes);  // name is not stored: the caller sets it

class Outbox {
 public:
  // Creates the directories if needed and removes temp files a crash left behind.
  static Result<Outbox> Open(const std::filesystem::path& dir);

  // "<id with unsafe bytes as _XX>.<channel>", or a hashed form when that is too long for a name.
  static std::string JobName(std::string_view notification_id, Channel c);

  // Every pending job, oldest first (created_ms, then name). Corrupt files are moved aside and
  // counted in *corrupt.
  Result<std::vector<OutboxJob>> Recover(size_t* corrupt) const;

  Status Put(const OutboxJob& job) const;
  Status Remove(const OutboxJob& job) const;
  Status MoveToFailed(const OutboxJob& job) const;
  // Writes job.payload to sent/<name>.eml (atomically), then removes the job.
  Status WriteSent(const OutboxJob& job) const;
  // Deletes files in sent/ and failed/ last modified before `before` (wall clock); returns how
  // many. Pending jobs are never touched.
  Result<size_t> Prune(std::filesystem::file_time_type before) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path JobPath(const OutboxJob& job) const;

 private:
  explicit Outbox(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace hw::alerter::delivery
