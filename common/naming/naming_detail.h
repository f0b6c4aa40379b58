// naming.cc's building blocks that messages.cc also needs: the "why is this name wrong" checks and
// the error messages built from them. Internal to common/naming; everything else calls naming.h.
#pragma once

#include <google/protobuf/map.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::naming::detail {

using TagMap = google::protobuf::Map<std::string, std::string>;

// An InvalidArgument naming the field, the value (quoted, escaped) and why it is wrong.
Status Invalid(std::string_view field, std::string_view value, std::string_view why);
// The same for a number, shown as given.
Status InvalidNumber(std::string_view field, std::string_view shown, std::string_view why);
// st with prefix put before its message: "samples[3]." + "metric: ...".
Status Nest(std::string_view prefix, const Status& st);
std::string Indexed(std::string_view field, int i);  // "samples[3]"
std::string Quote(std::string_view v);               // "\"a\\tb\"", escaped for a log line
std::string At(size_t i);                            // " at byte 12"

// Empty when fine, else why not.
std::string Utf8Problem(std::string_view s);
std::string LengthProblem(std::string_view v, size_t max_bytes);
std::string TagKeyProblem(std::string_view key);
std::string TagValueProblem(std::string_view value);
std::string NameCharProblem(std::string_view v);  // A-Za-z0-9_.- only (metrics, rule names)

}  // namespace hw::naming::detail
