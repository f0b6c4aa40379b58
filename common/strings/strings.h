// Splitting, trimming and number parsing on string_views: the one copy used by every module, so a
// "1.5" or a "a, b" reads the same in a config file, a CLI flag, a procfs file and a test fixture.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace hw::strings {

// Without leading and trailing spaces, tabs, CRs and LFs.
std::string_view Trim(std::string_view s);

// Fields separated by runs of spaces or tabs (procfs columns); no empty fields.
std::vector<std::string_view> SplitFields(std::string_view line);
// The first field of line (as SplitFields splits) and, in *rest when given, what follows it;
// without allocating, for text read every tick whose lines are "name value" (vmstat, meminfo).
std::string_view FirstField(std::string_view line, std::string_view* rest = nullptr);

// Every piece between separators, empty ones included: "a,,b" is {"a", "", "b"} and "" is {""}.
std::vector<std::string_view> Split(std::string_view text, char sep);

// Calls fn(line) for each line (without '\n'); the last line may lack a newline.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// The whole of text as a T, read by std::from_chars: an integer in `base`, or a floating-point
// number. Strict: no leading '+' or spaces, nothing after the number, nothing out of range; an
// empty text is nullopt too.
template <typename T>
std::optional<T> ParseNumber(std::string_view text, int base = 10) {
  static_assert(std::is_arithmetic_v<T>);
  if (text.empty()) return std::nullopt;
  T v{};
  std::from_chars_result r;
  if constexpr (std::is_floating_point_v<T>) {
    (void)base;
    r = std::from_chars(text.data(), text.data() + text.size(), v);
  } else {
    r = std::from_chars(text.data(), text.data() + text.size(), v, base);
  }
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

inline std::optional<uint64_t> ParseU64(std::string_view s) { return ParseNumber<uint64_t>(s); }
inline std::optional<int64_t> ParseI64(std::string_view s) { return ParseNumber<int64_t>(s); }

// A value as scripts and people write it: ParseNumber<double>, and also with a leading '+'
// ("+1.5"), which from_chars alone rejects.
std::optional<double> ParseDouble(std::string_view s);

// s as a JSON string literal, quotes included: ", \ and control bytes (and DEL) escaped, bytes
// >= 0x80 copied as they are, so s must be UTF-8 for the result to be valid JSON.
void AppendJsonString(std::string_view s, std::string* out);
std::string JsonString(std::string_view s);

}  // namespace hw::strings
