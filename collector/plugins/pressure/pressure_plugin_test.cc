#include "collector/plugins/pressure/pressure_plugin.h"

#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"
#include "common/testing/temp_dir.h"

namespace hw::collector {
namespace {

using testing::FixtureCase;
using testing::RunFixture;
using testing::ValueOf;

TEST(PressurePluginTest, FixturesMatchExpectedOutput) {
  testing::ExpectAllFixturesMatch("pressure");
}

TEST(PressurePluginTest, Avg10OfEachSomeAndFullLine) {
  auto runs = RunFixture("pressure", FixtureCase("pressure", "kernel_5_10"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[0];
  EXPECT_EQ(p.size(), 5u);
  EXPECT_DOUBLE_EQ(*ValueOf(p, "pressure.cpu.some"), 12.5);
  EXPECT_DOUBLE_EQ(*ValueOf(p, "pressure.memory.some"), 4.75);
  EXPECT_DOUBLE_EQ(*ValueOf(p, "pressure.memory.full"), 1.25);
  EXPECT_DOUBLE_EQ(*ValueOf(p, "pressure.io.some"), 30);
  EXPECT_DOUBLE_EQ(*ValueOf(p, "pressure.io.full"), 27.33);
}

TEST(PressurePluginTest, CpuFullLineOfNewerKernelsIsNotSent) {
  auto runs = RunFixture("pressure", FixtureCase("pressure", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  for (const auto& p : *runs) {
    EXPECT_EQ(p.size(), 5u);
    EXPECT_FALSE(ValueOf(p, "pressure.cpu.full").has_value());
  }
  EXPECT_DOUBLE_EQ(*ValueOf((*runs)[0], "pressure.cpu.some"), 3.66);
  EXPECT_DOUBLE_EQ(*ValueOf((*runs)[1], "pressure.cpu.some"), 2.36);
}

TEST(PressurePluginTest, KernelWithoutPsiGivesNoPointsAndNoError) {
  // RunFixture fails on the first Collect that returns an error.
  auto runs = RunFixture("pressure", FixtureCase("pressure", "absent"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 2u);
  for (const auto& p : *runs) EXPECT_TRUE(p.empty());
}

TEST(PressurePluginTest, MalformedFileIsAnErrorAndTheOthersAreStillSent) {
  // Not a fixture case: RunFixture stops at an error, and this is about what comes with one.
  hw::testing::TempDir dir;
  const auto pressure = dir.path() / "proc/pressure";
  const std::string io =
      "some avg10=2.00 avg60=1.00 avg300=0.50 total=100\n"
      "full avg10=1.00 avg60=0.50 avg300=0.25 total=50\n";
  ASSERT_TRUE(hw::testing::WriteFile(pressure / "cpu", "some avg10=1.50 total=10\n").ok());
  ASSERT_TRUE(hw::testing::WriteFile(pressure / "memory", "some avg10=x total=1\n").ok());
  ASSERT_TRUE(hw::testing::WriteFile(pressure / "io", io).ok());
  HostEnv env;
  env.proc_root = (dir.path() / "proc").string();
  PluginSetup setup;
  setup.env = &env;
  auto plugin = CreatePressurePlugin(setup);
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  std::vector<Point> out;
  Status s = (*plugin)->Collect(CollectTime{}, &out);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("pressure/memory"), std::string::npos) << s.ToString();
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(*ValueOf(out, "pressure.cpu.some"), 1.5);
  EXPECT_EQ(*ValueOf(out, "pressure.io.full"), 1);
}

}  // namespace
}  // namespace hw::collector
