// Silences (docs/alerting.md, Silences): matchers plus a time window, kept in the alerter's
// silences_file, edited by `hostwatch silence add|list|expire` (atomic replace) and re-read by the
// alerter when the file changes. A silenced alert still changes state and is still published to the
// broker; only its notifications are held back, and they come back when the silence ends.
//
// The file:
//   silences:
//     - {id: 1a2b3c4d, match: {rule: cpu_high, endpoint: "web-*"}, starts_ms: ..., ends_ms: ...,
//        comment: "kernel upgrade", created_by: alice}
// Matcher keys are alert labels: rule, endpoint, series, severity, or a tag of the series; values
// are globs. A silence with no matcher matches nothing (muting everything is never an accident).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status/status.h"

namespace hw::alerter {

struct Silence {
  std::string id;
  std::map<std::string, std::string> match;
  int64_t starts_ms = 0;
  int64_t ends_ms = 0;
  std::string comment;
  std::string created_by;

  bool Active(int64_t now_ms) const { return starts_ms <= now_ms && now_ms < ends_ms; }
  bool Matches(const std::map<std::string, std::string>& labels) const;
};

// A missing file is no silences. Errors name the file, line and key.
Result<std::vector<Silence>> LoadSilences(const std::string& path);
// Atomic replace; silences that ended more than a day before now_ms are dropped.
Status SaveSilences(const std::string& path, const std::vector<Silence>& silences, int64_t now_ms);
// 8 hex digits, random.
std::string NewSilenceId();

// The alerter's view of the file: Poll re-reads it when its size or mtime changed. A file that
// does not parse is logged once per change and the previous silences are kept.
class SilenceWatcher {
 public:
  explicit SilenceWatcher(std::string path) : path_(std::move(path)) {}
  void Poll();
  const std::vector<Silence>& silences() const { return silences_; }
  const std::string& path() const { return path_; }
  uint64_t reloads() const { return reloads_; }

 private:
  std::string path_;
  std::vector<Silence> silences_;
  int64_t mtime_ns_ = -1;
  int64_t size_ = -1;
  uint64_t inode_ = 0;
  uint64_t reloads_ = 0;
};

}  // namespace hw::alerter
