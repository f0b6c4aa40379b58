#pragma once

#include <string_view>

#include "cli/cli_options.h"

namespace hw::cli {

// `hostwatch test-alerts --config alerter.yaml SAMPLES.jsonl...` (alerter/README.md, Tools) and
// `hostwatch silence add|list|expire` (the alerter's silences file): their --help texts and their
// handlers (rows in cli.cc's table). Return the exit code.
extern const std::string_view kTestAlertsUsage;
int RunTestAlerts(VerbInput& in);
extern const std::string_view kSilenceUsage;
int RunSilence(VerbInput& in);

}  // namespace hw::cli
