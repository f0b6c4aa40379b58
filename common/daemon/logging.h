// Logging setup shared by every process: spdlog to stderr, as text for people or as JSON lines for
// log shippers, and a limiter so that a problem that repeats is logged with a count, not once per
// message.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "common/status/status.h"

namespace hw::daemon {

struct LogOptions {
  std::string level = "info";   // trace debug info warn error critical off
  std::string format = "text";  // text | json
};

// Reads the `log:` section of a config file.
void ReadLogOptions(config::Section section, LogOptions* out);
void WriteLogOptions(const LogOptions& opts, config::YamlWriter* out);

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

// Installs the default logger named `name`, writing to stderr. Safe to call again (SIGHUP) to
// change the level or format.
Status SetupLogging(const std::string& name, const LogOptions& opts);

// Formats one spdlog message as a JSON object line:
// {"ts":"…Z","level":"warn","logger":"…","msg":"…"}. Exposed for tests.
std::string FormatJsonLine(std::chrono::system_clock::time_point time,
                           spdlog::level::level_enum level, std::string_view logger,
                           std::string_view message);

// Lets the first occurrence through and then at most one per period, reporting how many were held
// back, e.g.:
//   if (auto n = reject_log_.Allow()) spdlog::warn("rejected envelope: {} ({} more since)", why,
//   *n);
// Not thread-safe; keep one per thread or guard it.
class RepeatLimiter {
 public:
  explicit RepeatLimiter(std::chrono::milliseconds period) : period_(period) {}
  // nullopt: stay quiet. Otherwise the number suppressed since the last one let through.
  std::optional<uint64_t> Allow(
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  std::chrono::milliseconds period_;
  std::optional<std::chrono::steady_clock::time_point> last_;
  uint64_t suppressed_ = 0;
};

}  // namespace hw::daemon
