// Test-only: runs a plugin over recorded procfs/sysfs trees and compares with expected output
// (telegraf's testcases/, leveldb's in-memory Env).
//
// A case is collector/plugins/<plugin>/testdata/<case>/ holding
//   plugin.yaml          optional: the plugin's options (collector.plugins.<plugin> without
//                        enabled/interval); "${CASE}" is replaced by the case's absolute path
//   <n>/proc, <n>/sys    snapshot n = 0, 1, ...: what the host looked like at tick n (10 s apart)
//   <n>/statfs.txt       optional: "<mount> <total> <free> <avail> <inodes> <inodes_free>" lines
//                        standing in for statvfs(2) (mount spelled as in /proc/mounts)
//   expected.<n>.out     FormatPoints() of what Collect returned at snapshot n
// One plugin instance sees every snapshot in order (through a symlink that is re-pointed), so
// rates and disappearing series are exercised exactly as on a live host.
// Every case runs twice: with each read returning the whole file, and with each read returning at
// most kPieceBytes (HostEnv::max_read_bytes), as procfs seq_files return about a page per read on
// a busy host. Both runs must give the expected output.
// HW_UPDATE_FIXTURES=1 writes the expected files instead of comparing (then review the diff).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "collector/point.h"
#include "common/status/status.h"

namespace hw::collector::testing {

// The case directories of a plugin, sorted.
std::vector<std::filesystem::path> FixtureCases(std::string_view plugin);
std::filesystem::path FixtureCase(std::string_view plugin, std::string_view name);

// How a recorded file comes back from read(2).
enum class ReadMode {
  kWhole,   // one read returns all of it (a regular file)
  kPieces,  // at most kPieceBytes a read, like a procfs seq_file
};
// Smaller than any case's larger files and not a power of two, so lines and numbers are split
// at every position across the cases.
constexpr size_t kPieceBytes = 301;

// Runs the plugin over every snapshot of the case; the points of each Collect, in order.
Result<std::vector<std::vector<Point>>> RunFixture(std::string_view plugin,
                                                   const std::filesystem::path& case_dir,
                                                   ReadMode mode = ReadMode::kPieces);

// gtest assertions: every snapshot's output equals its expected.<n>.out, in both read modes.
void ExpectFixtureMatches(std::string_view plugin, const std::filesystem::path& case_dir);
void ExpectAllFixturesMatch(std::string_view plugin);

// The value of the one point with this metric and tags (sorted or not); nullopt when absent.
std::optional<double> ValueOf(const std::vector<Point>& points, std::string_view metric,
                              const Tags& tags = {});

}  // namespace hw::collector::testing
