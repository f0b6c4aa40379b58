// Small state files (committed offsets, dedup snapshots) replaced atomically: write a temp file,
// fsync it, rename over the old one, fsync the directory. A crash leaves either the old or the new
// file, never a mix.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::io {

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents);
// NotFound when the file does not exist.
Result<std::string> ReadWholeFile(const std::filesystem::path& path);

}  // namespace hw::io
