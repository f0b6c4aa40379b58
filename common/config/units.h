// Durations ("250ms", "10s", "5m", "1h30m", "7d") and sizes ("512KiB", "64MiB", "1000000") as
// config values. Strict on purpose: "10x", "-5s", "1.5.3MiB" and overflow are errors, never a
// guessed value.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::config {

using Duration = std::chrono::milliseconds;

// One or more <integer><unit> terms, units ms s m h d (e.g. "1h30m"); a bare "0" is zero.
Result<Duration> ParseDuration(std::string_view text);
// The shortest exact spelling: 90000ms -> "90s", 300000 -> "5m", 1500 -> "1500ms".
std::string FormatDuration(Duration d);

// <number>[unit], unit B, KB MB GB TB (powers of 1000) or KiB MiB GiB TiB (powers of 1024).
// A decimal number is allowed when the result is a whole number of bytes ("1.5KiB" = 1536).
Result<uint64_t> ParseSize(std::string_view text);
// The largest binary unit that divides exactly: 67108864 -> "64MiB", 1000 -> "1000B".
std::string FormatSize(uint64_t bytes);

}  // namespace hw::config
