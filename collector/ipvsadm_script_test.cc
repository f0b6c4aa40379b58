// deploy/examples/ipvsadm-stats.sh turns `ipvsadm -Ln --stats --exact` into exec lines that the
// exec plugin accepts without a single error.
#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"
#include "collector/plugins/exec/exec_output.h"
#include "collector/proc_text.h"
#include "common/testing/subprocess.h"

namespace hw::collector {
namespace {

using namespace std::chrono_literals;

const std::string kScript = HW_SOURCE_DIR "/deploy/examples/ipvsadm-stats.sh";
const std::string kData = HW_SOURCE_DIR "/collector/testdata/ipvsadm/";

TEST(IpvsadmScriptTest, RecordedOutputBecomesMetricLines) {
  std::string out;
  Result<int> rc =
      hw::testing::RunCommand({"/bin/sh", kScript, kData + "stats-exact.txt"}, &out, 10s);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  ASSERT_EQ(*rc, 0) << out;
  Result<std::string> expected = ReadTextFile(kData + "expected.txt");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(out, *expected);

  ExecParseResult parsed = ParseExecOutput(out, ExecFormat::kLines, 1000);
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front();
  ASSERT_EQ(parsed.points.size(), 55u);  // 11 services and real servers x 5 counters
  EXPECT_EQ(testing::ValueOf(parsed.points, "lvs.vs.conns",
                             {{"proto", "TCP"}, {"vip", "10.20.0.100:443"}}),
            12004511);
  EXPECT_EQ(
      testing::ValueOf(parsed.points, "lvs.rs.in_bytes",
                       {{"proto", "TCP"}, {"vip", "10.20.0.100:443"}, {"rip", "10.20.1.12:443"}}),
      20609399411.0);
  EXPECT_EQ(testing::ValueOf(parsed.points, "lvs.vs.conns",
                             {{"proto", "TCP"}, {"vip", "[2001:db8::100]:8080"}}),
            42);
  EXPECT_EQ(testing::ValueOf(parsed.points, "lvs.rs.conns",
                             {{"proto", "FWM"}, {"vip", "7"}, {"rip", "10.20.1.31:0"}}),
            318);
}

TEST(IpvsadmScriptTest, FailsWhenTheInputCannotBeRead) {
  std::string out;
  Result<int> rc = hw::testing::RunCommand({"/bin/sh", kScript, kData + "missing.txt"}, &out, 10s);
  ASSERT_TRUE(rc.ok());
  EXPECT_NE(*rc, 0);  // so exec.ok is 0 rather than a silent empty run
}

}  // namespace
}  // namespace hw::collector
