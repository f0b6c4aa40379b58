#pragma once

#include <string_view>

#include "cli/cli_options.h"

namespace hw::cli {

// `hostwatch top` and `hostwatch tail` (README.md): live views from the broker's tap.
extern const std::string_view kTopUsage;
int RunTop(VerbInput& in);
extern const std::string_view kTailUsage;
int RunTail(VerbInput& in);

}  // namespace hw::cli
