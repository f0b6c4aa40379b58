#include "common/config/units.h"

#include <array>
#include <limits>
#include <optional>

#include "common/strings/strings.h"

namespace hw::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 5> kDurationUnits = {
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};

constexpr std::array<Unit, 9> kSizeUnits = {{{"KiB", 1ull << 10},
                                             {"MiB", 1ull << 20},
                                             {"GiB", 1ull << 30},
                                             {"TiB", 1ull << 40},
                                             {"KB", 1'000},
                                             {"MB", 1'000'000},
                                             {"GB", 1'000'000'000},
                                             {"TB", 1'000'000'000'000},
                                             {"B", 1}}};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool MulAdd(uint64_t a, uint64_t b, uint64_t add, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  uint64_t p = a * b;
  if (p > std::numeric_limits<uint64_t>::max() - add) return false;
  *out = p + add;
  return true;
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\" is not a duration (use e.g. 250ms, 10s, 5m, 2h, 7d)");
  };
  if (text == "0") return Duration(0);
  if (text.empty()) return bad();
  uint64_t total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && IsDigit(rest[digits])) ++digits;
    if (digits == 0) return bad();
    const std::optional<uint64_t> n = strings::ParseU64(rest.substr(0, digits));
    if (!n) return bad();
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kDurationUnits) {
      if (rest.starts_with(u.name)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return bad();
    rest.remove_prefix(unit->name.size());
    if (!MulAdd(*n, unit->factor, total_ms, &total_ms)) {
      return Status::InvalidArgument("\"" + std::string(text) + "\" is too long a duration");
    }
  }
  if (total_ms > static_cast<uint64_t>(std::numeric_limits<Duration::rep>::max())) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is too long a duration");
  }
  return Duration(static_cast<Duration::rep>(total_ms));
}

std::string FormatDuration(Duration d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0s";
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    const auto f = static_cast<int64_t>(it->factor);
    if (ms % f == 0) return std::to_string(ms / f) + std::string(it->name);
  }
  return std::to_string(ms) + "ms";
}

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\" is not a size (use e.g. 4096, 512KiB, 64MiB, 10GiB)");
  };
  size_t i = 0;
  while (i < text.size() && IsDigit(text[i])) ++i;
  if (i == 0) return bad();
  const std::optional<uint64_t> whole_digits = strings::ParseU64(text.substr(0, i));
  if (!whole_digits) return bad();
  const uint64_t whole = *whole_digits;
  // Optional fraction, kept as an exact decimal (numerator / 10^digits) to avoid float rounding.
  uint64_t frac = 0, frac_scale = 1;
  if (i < text.size() && text[i] == '.') {
    size_t j = ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == j || i - j > 9) return bad();
    const std::optional<uint64_t> frac_digits = strings::ParseU64(text.substr(j, i - j));
    if (!frac_digits) return bad();
    frac = *frac_digits;
    for (size_t k = j; k < i; ++k) frac_scale *= 10;
  }
  std::string_view unit_text = text.substr(i);
  uint64_t factor = 1;
  if (!unit_text.empty()) {
    const Unit* unit = nullptr;
    for (const Unit& u : kSizeUnits) {
      if (unit_text == u.name) unit = &u;
    }
    if (unit == nullptr) return bad();
    factor = unit->factor;
  }
  uint64_t bytes = 0;
  if (!MulAdd(whole, factor, 0, &bytes)) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is too large a size");
  }
  if (frac != 0) {
    // factor is at most 2^40 and frac < 10^9, so the product fits in 64 bits... barely not for TB
    // with 9 digits; use 128-bit arithmetic to stay exact.
    unsigned __int128 part = static_cast<unsigned __int128>(frac) * factor;
    if (part % frac_scale != 0) {
      return Status::InvalidArgument("\"" + std::string(text) +
                                     "\" is not a whole number of bytes");
    }
    uint64_t extra = static_cast<uint64_t>(part / frac_scale);
    if (!MulAdd(bytes, 1, extra, &bytes)) {
      return Status::InvalidArgument("\"" + std::string(text) + "\" is too large a size");
    }
  }
  return bytes;
}

std::string FormatSize(uint64_t bytes) {
  if (bytes == 0) return "0B";
  static constexpr std::array<Unit, 4> kBinary = {
      {{"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}}};
  for (const Unit& u : kBinary) {
    if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string(u.name);
  }
  return std::to_string(bytes) + "B";
}

}  // namespace hw::config
