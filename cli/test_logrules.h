#pragma once

#include <string_view>

#include "cli/cli_options.h"

namespace hw::cli {

// `hostwatch test-logrules --config logwatch.yaml FILE...` (logwatch/README.md): its --help text,
// and its handler (a row in cli.cc's table). Returns the exit code.
extern const std::string_view kTestLogrulesUsage;
int RunTestLogrules(VerbInput& in);

}  // namespace hw::cli
