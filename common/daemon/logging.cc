#include "common/daemon/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <ctime>

#include "common/strings/strings.h"

namespace hw::daemon {
namespace {

using strings::AppendJsonString;

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = FormatJsonLine(
        msg.time, msg.level, std::string_view(msg.logger_name.data(), msg.logger_name.size()),
        std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace},       {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},         {"warn", spdlog::level::warn},
      {"warning", spdlog::level::warn},      {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  for (const auto& [n, level] : kLevels) {
    if (name == n) return level;
  }
  return Status::InvalidArgument(
      "\"" + std::string(name) +
      "\" is not a log level (trace, debug, info, warn, error, critical, off)");
}

void ReadLogOptions(config::Section section, LogOptions* out) {
  section.ReadEnum("level", &out->level,
                   {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"});
  section.ReadEnum("format", &out->format, {"text", "json"});
}

void WriteLogOptions(const LogOptions& opts, config::YamlWriter* out) {
  out->BeginMap("log").Value("level", opts.level).Value("format", opts.format).EndMap();
}

std::string FormatJsonLine(std::chrono::system_clock::time_point time,
                           spdlog::level::level_enum level, std::string_view logger,
                           std::string_view message) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];  // generous: the compiler cannot bound tm fields
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  const auto level_name = spdlog::level::to_string_view(level);
  std::string out = "{\"ts\":\"";
  out += ts;
  out += "\",\"level\":";
  AppendJsonString(std::string_view(level_name.data(), level_name.size()), &out);
  out += ",\"logger\":";
  AppendJsonString(logger, &out);
  out += ",\"msg\":";
  AppendJsonString(message, &out);
  out += "}\n";
  return out;
}

Status SetupLogging(const std::string& name, const LogOptions& opts) {
  HW_ASSIGN_OR_RETURN(spdlog::level::level_enum level, ParseLogLevel(opts.level));
  if (opts.format != "text" && opts.format != "json") {
    return Status::InvalidArgument("log format must be text or json, not \"" + opts.format + "\"");
  }
  auto logger = spdlog::get(name);
  if (!logger) {
    // stderr_sink_mt: daemons log from several threads; stdout stays free for --check-config
    // output.
    logger =
        std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    spdlog::register_logger(logger);
  }
  if (opts.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %n: %v");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

std::optional<uint64_t> RepeatLimiter::Allow(std::chrono::steady_clock::time_point now) {
  if (!last_ || now - *last_ >= period_) {
    last_ = now;
    uint64_t n = suppressed_;
    suppressed_ = 0;
    return n;
  }
  ++suppressed_;
  return std::nullopt;
}

}  // namespace hw::daemon
