// Sample -> carbon plaintext line (graphite/README.md, Names):
//
//   naming: path    <prefix>.<endpoint>.<metric>[.<tag value>...] <value> <unix_s>\n
//                   tag values in sorted key order; every path component sanitised: anything but
//                   [A-Za-z0-9_-] becomes '_' (so "web-01.example" is one component,
//                   "web-01_example"); the metric keeps its dots (each segment sanitised).
//   naming: tagged  <metric>;host=<endpoint>;k=v... <value> <unix_s>\n
//                   tags in the order carbon normalises them to (sorted ";k=v" strings), so the
//                   name we route on is the name carbon stores. Tag values keep [A-Za-z0-9_.:-]
//                   and every other byte becomes '_' (no ';', '=', '~', '/', space or control
//                   byte can reach carbon); a sample tag named "host" or "name" (carbon's own
//                   tag) is sent as "tag_host" / "tag_name".
//
// A name is unsendable when a component is empty, a path component is longer than 251 bytes (a
// file name), or the whole name is longer than kMaxCarbonNameBytes (carbon's line receiver drops a
// connection on lines past 16 KiB). Non-finite values are not sendable either. Both are counted by
// the caller and skipped: one sample gives one line or none, never two.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::graphite {

inline constexpr size_t kMaxCarbonNameBytes = 4000;
// NAME_MAX (255) less ".wsp": a longer last component is a file carbon cannot create.
inline constexpr size_t kMaxPathComponentBytes = 251;

enum class Naming { kPath, kTagged };

struct NamingOptions {
  Naming naming = Naming::kPath;
  std::string prefix = "hostwatch";  // path mode only; may hold dots; empty: no prefix
};

enum class LineVerdict { kOk, kNonFinite, kUnsendableName };

// The carbon name of a sample of `endpoint` into *name (overwritten). kUnsendableName when it
// cannot be sent (see above).
LineVerdict CarbonName(const NamingOptions& options, std::string_view endpoint,
                       const hostwatch::v1::Sample& sample, std::string* name);

// Appends "<name> <value> <unix_s>\n". The value is the shortest text that reads back as the
// same double; unix_s is time_ms floored to seconds. kNonFinite (nothing appended) for NaN/inf.
LineVerdict AppendCarbonLine(std::string_view name, double value, int64_t time_ms,
                             std::string* out);

// For tests and the path sanitiser's users: one path component, [A-Za-z0-9_-] kept.
std::string SanitizePathComponent(std::string_view text);

}  // namespace hw::graphite
