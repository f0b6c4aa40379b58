#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cli/cli_options.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::cli {

// `hostwatch status ...` (docs/broker.md, Stats): its --help text, and its handler (a row in
// cli.cc's table). Returns the exit code.
extern const std::string_view kStatusUsage;
int RunStatus(VerbInput& in);

// The producers part of `hostwatch status`, for people. At most max_rows rows (0: all): within the
// limit, every producer by source; past it, the least recently seen first (on a fleet of thousands
// the ones an operator looks for), then a line saying how many more there are and that each was
// seen more recently. The heading counts those silent for over a minute.
std::string FormatProducers(const hostwatch::v1::BrokerStats& st, size_t max_rows);

}  // namespace hw::cli
