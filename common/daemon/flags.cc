#include "common/daemon/flags.h"

#include <string_view>

#include "common/daemon/logging.h"

namespace hw::daemon {

Result<CommonFlags> ParseCommonFlags(std::span<const char* const> args) {
  CommonFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    // Both "--flag value" and "--flag=value".
    auto take_value = [&](std::string_view name, std::string* out) -> Status {
      if (arg.size() > name.size() && arg[name.size()] == '=') {
        *out = std::string(arg.substr(name.size() + 1));
      } else if (i + 1 < args.size()) {
        *out = args[++i];
      } else {
        return Status::InvalidArgument(std::string(name) + " needs a value");
      }
      if (out->empty()) return Status::InvalidArgument(std::string(name) + " needs a value");
      return Status::Ok();
    };
    auto is = [&](std::string_view name) {
      return arg == name ||
             (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=');
    };
    if (is("--config")) {
      HW_RETURN_IF_ERROR(take_value("--config", &flags.config_path));
    } else if (arg == "--check-config") {
      flags.check_config = true;
    } else if (is("--log-level")) {
      HW_RETURN_IF_ERROR(take_value("--log-level", &flags.log_level));
      HW_RETURN_IF_ERROR(ParseLogLevel(flags.log_level).status());
    } else if (arg == "--version") {
      flags.version = true;
    } else if (arg == "--help" || arg == "-h") {
      flags.help = true;
    } else {
      return Status::InvalidArgument("unknown argument \"" + std::string(arg) + "\" (see --help)");
    }
  }
  return flags;
}

std::string UsageText(const std::string& program, const std::string& summary) {
  return "Usage: " + program + " [--config FILE] [--check-config] [--log-level LEVEL]\n" + "\n" +
         summary + "\n\n" +
         "  --config FILE       YAML config; without it the built-in defaults are used\n"
         "  --check-config      validate the config, print the effective config, exit 0 or 2\n"
         "  --log-level LEVEL   trace, debug, info, warn, error, critical or off\n"
         "  --version           print the version and exit\n"
         "  --help              this text\n"
         "\n"
         "Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the config.\n"
         "Exit codes: 0 clean stop, 1 runtime failure, 2 usage or config error.\n";
}

}  // namespace hw::daemon
