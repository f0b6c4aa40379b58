#pragma once

#include <string_view>

#include "cli/cli_options.h"

namespace hw::cli {

// `hostwatch consume ...` (README.md): its --help text, and its handler (a row in cli.cc's
// table). Returns the exit code.
extern const std::string_view kConsumeUsage;
int RunConsume(VerbInput& in);

}  // namespace hw::cli
