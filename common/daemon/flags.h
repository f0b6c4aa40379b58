// The flags every hostwatch daemon takes (docs/architecture.md §3) and the exit codes it returns.
#pragma once

#include <span>
#include <string>

#include "common/status/status.h"

namespace hw::daemon {

inline constexpr int kExitOk = 0;       // clean stop
inline constexpr int kExitRuntime = 1;  // runtime failure
inline constexpr int kExitUsage = 2;    // usage or config error

struct CommonFlags {
  std::string config_path;  // empty: no --config, run the built-in defaults
  bool check_config = false;
  std::string log_level;  // empty: whatever the config says
  bool version = false;
  bool help = false;
};

// Parses `--config FILE` (or --config=FILE), `--check-config`, `--log-level LEVEL`, `--version`,
// `--help`/-h. Anything else is a usage error (InvalidArgument) whose message says what was wrong.
// args excludes argv[0].
Result<CommonFlags> ParseCommonFlags(std::span<const char* const> args);

// The --help text: usage line, the summary and the flags.
std::string UsageText(const std::string& program, const std::string& summary);

}  // namespace hw::daemon
