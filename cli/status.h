#pragma once

#include <string_view>

#include "cli/cli_options.h"

namespace hw::cli {

// `hostwatch status ...` (docs/broker.md, Stats): its --help text, and its handler (a row in
// cli.cc's table). Returns the exit code.
extern const std::string_view kStatusUsage;
int RunStatus(VerbInput& in);

}  // namespace hw::cli
