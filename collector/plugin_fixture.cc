#include "collector/plugin_fixture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "collector/builtin_plugins.h"
#include "collector/plugin.h"
#include "collector/plugins/disk/disk_plugin.h"
#include "collector/proc_text.h"
#include "common/config/config.h"
#include "common/testing/temp_dir.h"

namespace hw::collector::testing {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kTickMs = 10000;
constexpr int64_t kWallOrigin = 1700000000000;

std::string Slurp(const fs::path& p) {
  Result<std::string> r = ReadTextFile(p.string());
  return r.ok() ? *r : std::string();
}

// statfs.txt of the snapshot the "current" link points at.
Result<FsUsage> FixtureStatFs(const fs::path& current, const std::string& mount_point) {
  const std::string text = Slurp(current / "statfs.txt");
  std::optional<FsUsage> found;
  ForEachLine(text, [&](std::string_view line) {
    std::vector<std::string_view> f = SplitFields(line);
    if (f.size() != 6 || UnescapeMountField(f[0]) != mount_point) return;
    FsUsage u;
    u.total_bytes = ParseU64(f[1]).value_or(0);
    u.free_bytes = ParseU64(f[2]).value_or(0);
    u.avail_bytes = ParseU64(f[3]).value_or(0);
    u.inodes = ParseU64(f[4]).value_or(0);
    u.inodes_free = ParseU64(f[5]).value_or(0);
    found = u;
  });
  if (!found) return Status::IoError("statvfs " + mount_point, ENOENT);
  return *found;
}

}  // namespace

fs::path FixtureCase(std::string_view plugin, std::string_view name) {
  return fs::path(HW_SOURCE_DIR) / "collector/plugins" / plugin / "testdata" / name;
}

std::vector<fs::path> FixtureCases(std::string_view plugin) {
  std::vector<fs::path> cases;
  const fs::path root = fs::path(HW_SOURCE_DIR) / "collector/plugins" / plugin / "testdata";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.is_directory()) cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

Result<std::vector<std::vector<Point>>> RunFixture(std::string_view plugin,
                                                   const fs::path& case_dir, ReadMode mode) {
  const PluginDescriptor* d = FindBuiltinPlugin(plugin);
  if (d == nullptr) return Status::NotFound("no plugin " + std::string(plugin));

  std::string yaml = Slurp(case_dir / "plugin.yaml");
  for (size_t at; (at = yaml.find("${CASE}")) != std::string::npos;) {
    yaml.replace(at, 7, fs::absolute(case_dir).string());
  }
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadString(yaml.empty() ? "{}" : yaml,
                                                             (case_dir / "plugin.yaml").string()));
  config::Section root = doc->root();
  std::shared_ptr<const PluginOptions> options;
  if (d->read_options != nullptr) options = d->read_options(root);
  HW_RETURN_IF_ERROR(doc->Finish());

  HW_ASSIGN_OR_RETURN(hw::testing::TempDir tmp, hw::testing::TempDir::Create());
  const fs::path current = tmp.path() / "current";
  HostEnv env;
  env.proc_root = (current / "proc").string();
  env.sys_root = (current / "sys").string();
  env.statfs = [current](const std::string& m) { return FixtureStatFs(current, m); };
  env.clock_ticks = 100;
  env.page_size = 4096;
  env.max_read_bytes = mode == ReadMode::kPieces ? kPieceBytes : 0;

  PluginSetup setup;
  setup.env = &env;
  setup.interval_ms = kTickMs;
  setup.options = options.get();
  HW_ASSIGN_OR_RETURN(std::unique_ptr<Plugin> p, d->create(setup));

  std::vector<std::vector<Point>> runs;
  for (int n = 0;; ++n) {
    const fs::path snap = case_dir / std::to_string(n);
    if (!fs::is_directory(snap)) break;
    std::error_code ec;
    fs::remove(current, ec);
    fs::create_directory_symlink(fs::absolute(snap), current, ec);
    if (ec) return Status::IoError("symlink " + current.string(), ec.value());
    std::vector<Point> out;
    const CollectTime t{kWallOrigin + n * kTickMs, 1000000 + n * kTickMs};
    HW_RETURN_IF_ERROR(p->Collect(t, &out).WithContext("snapshot " + std::to_string(n)));
    runs.push_back(std::move(out));
  }
  if (runs.empty()) return Status::NotFound("no snapshots in " + case_dir.string());
  return runs;
}

void ExpectFixtureMatches(std::string_view plugin, const fs::path& case_dir) {
  const bool update = std::getenv("HW_UPDATE_FIXTURES") != nullptr;
  for (ReadMode mode : {ReadMode::kWhole, ReadMode::kPieces}) {
    const bool pieces = mode == ReadMode::kPieces;
    SCOPED_TRACE(case_dir.string() + (pieces ? " (read in pieces)" : " (read whole)"));
    Result<std::vector<std::vector<Point>>> runs = RunFixture(plugin, case_dir, mode);
    ASSERT_TRUE(runs.ok()) << runs.status().ToString();
    for (size_t n = 0; n < runs->size(); ++n) {
      const fs::path expected = case_dir / ("expected." + std::to_string(n) + ".out");
      const std::string got = FormatPoints((*runs)[n]);
      if (update && !pieces) {
        std::ofstream(expected) << got;
        continue;
      }
      ASSERT_TRUE(fs::exists(expected)) << expected << " is missing; got:\n" << got;
      EXPECT_EQ(got, Slurp(expected)) << "snapshot " << n;
    }
  }
}

void ExpectAllFixturesMatch(std::string_view plugin) {
  const std::vector<fs::path> cases = FixtureCases(plugin);
  ASSERT_FALSE(cases.empty()) << "no fixtures for " << plugin;
  for (const fs::path& c : cases) ExpectFixtureMatches(plugin, c);
}

std::optional<double> ValueOf(const std::vector<Point>& points, std::string_view metric,
                              const Tags& tags) {
  Tags want = tags;
  std::sort(want.begin(), want.end());
  for (const Point& p : points) {
    if (p.metric != metric) continue;
    Tags have = p.tags;
    std::sort(have.begin(), have.end());
    if (have == want) return p.value;
  }
  return std::nullopt;
}

}  // namespace hw::collector::testing
