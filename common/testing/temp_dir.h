// Test-only: a private scratch directory per test or fixture, removed when it goes out of scope.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::testing {

// A fresh directory "hostwatch-test-XXXXXX" under $TMPDIR (or /tmp), removed with everything in it
// by the destructor. Set HW_KEEP_TEMP=1 to keep it for a post-mortem; its path is then printed to
// stderr. Move-only: exactly one owner removes the tree.
class TempDir {
 public:
  // Aborts with a message when the directory cannot be made: a test cannot proceed without one,
  // and a broken $TMPDIR is an environment fault, not a test result. Use Create() to get a Status.
  TempDir();
  static Result<TempDir> Create();
  ~TempDir();

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path()/name, created (with parents) if missing. Returns the path even when creation fails, so
  // the caller's next file operation reports the error with its own context.
  std::filesystem::path Sub(std::string_view name) const;

 private:
  struct Adopt {};
  TempDir(Adopt, std::filesystem::path path) : path_(std::move(path)) {}
  void Remove();

  std::filesystem::path path_;  // empty once moved from
};

// Writes content to path (truncating), creating parent directories.
Status WriteFile(const std::filesystem::path& path, std::string_view content);
// The whole file.
Result<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace hw::testing
