#include "cli/cli.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hw::cli {
namespace {

int RunHostwatch(std::vector<const char*> args) {
  args.insert(args.begin(), "hostwatch");
  return RunCli(static_cast<int>(args.size()), args.data());
}

TEST(CliTest, EveryVerbAnswersHelpWithItsUsageAndExitsZero) {
  for (const char* verb : {"send", "loadgen", "consume", "status", "keygen", "test-logrules"}) {
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(RunHostwatch({verb, "--help"}), 0) << verb;
    const std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(out.rfind(std::string("usage: hostwatch ") + verb, 0), 0u) << verb << ": " << out;
  }
}

TEST(CliTest, TopLevelHelpListsEveryVerb) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunHostwatch({"--help"}), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  for (const char* verb : {"send", "loadgen", "consume", "status", "keygen", "test-logrules"}) {
    EXPECT_NE(out.find(std::string("\n  ") + verb + " "), std::string::npos) << verb;
  }
}

TEST(CliTest, UsageErrorsExitTwo) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunHostwatch({}), 2);
  EXPECT_EQ(RunHostwatch({"frobnicate"}), 2);
  EXPECT_EQ(RunHostwatch({"keygen"}), 2);  // no NAME
  EXPECT_EQ(RunHostwatch({"keygen", "--broker", "tcp://x:1"}),
            2);                                        // keygen takes no broker options
  EXPECT_EQ(RunHostwatch({"status", "--broker"}), 2);  // a broker option without its value
  EXPECT_EQ(RunHostwatch({"send", "--bogus"}), 2);
  EXPECT_EQ(RunHostwatch({"loadgen", "--hosts", "2", "--metrics", "1", "--interval", "1",
                          "--duration", "1", "--rate", "10", "--spread"}),
            2);  // --spread paces live runs only
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("hostwatch: unknown verb \"frobnicate\""), std::string::npos) << err;
  EXPECT_NE(err.find("hostwatch status: --broker needs a value"), std::string::npos) << err;
  EXPECT_NE(err.find("--spread paces a live run"), std::string::npos) << err;
}

}  // namespace
}  // namespace hw::cli
