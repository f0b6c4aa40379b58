// Reading and splitting procfs text without iostreams: the collector runs these on every tick, so
// they read with one open/read/close and hand out string_views into one buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"

namespace hw::collector {

// The whole file (procfs files report size 0, so this reads until EOF). IoError names the path.
Result<std::string> ReadTextFile(const std::string& path);
// Like ReadTextFile into *buf, reusing its capacity (the process scan reads thousands of files).
Status ReadTextFileInto(const std::string& path, std::string* buf);

// Fields separated by runs of spaces or tabs.
std::vector<std::string_view> SplitFields(std::string_view line);
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

std::optional<uint64_t> ParseU64(std::string_view s);
std::optional<int64_t> ParseI64(std::string_view s);
std::optional<double> ParseDouble(std::string_view s);
std::string_view Trim(std::string_view s);

// Names of the entries of a directory (no "." or ".."); IoError when it cannot be opened.
Result<std::vector<std::string>> ListDir(const std::string& path);

}  // namespace hw::collector
