#include "cli/cli_options.h"

#include <gtest/gtest.h>

namespace hw::cli {
namespace {

using std::chrono::milliseconds;

TEST(CliOptionsTest, SecondsTakePlainNumbersAndDurations) {
  EXPECT_EQ(*ParseSeconds("--timeout", "30"), milliseconds(30'000));
  EXPECT_EQ(*ParseSeconds("--timeout", "0.5"), milliseconds(500));
  EXPECT_EQ(*ParseSeconds("--timeout", "500ms"), milliseconds(500));
  EXPECT_EQ(*ParseSeconds("--timeout", "2m"), milliseconds(120'000));
  for (const char* bad : {"", "-1", "ten", "5x", "."}) {
    Result<milliseconds> r = ParseSeconds("--idle", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--idle"), std::string::npos);
  }
}

TEST(CliOptionsTest, CountsAreWholeNumbers) {
  EXPECT_EQ(*ParseCount("--count", "1000000"), 1'000'000u);
  for (const char* bad : {"", "-3", "1.5", "1e6", "99999999999999999999999"}) {
    EXPECT_FALSE(ParseCount("--count", bad).ok()) << bad;
  }
}

TEST(CliOptionsTest, BrokerOptionsDeriveBackendAndTap) {
  std::vector<std::string> args = {"--broker", "tcp://127.0.0.1:9400", "cpu.busy", "--endpoint",
                                   "x"};
  BrokerOptions o;
  ASSERT_TRUE(ExtractBrokerOptions(&args, &o).ok());
  EXPECT_EQ(args, (std::vector<std::string>{"cpu.busy", "--endpoint", "x"}));  // the rest is left
  EXPECT_EQ(*o.BackendEndpoint(), "tcp://127.0.0.1:9401");
  EXPECT_EQ(*o.TapEndpoint(), "tcp://127.0.0.1:9402");

  std::vector<std::string> explicit_args = {"--backend=tcp://127.0.0.1:1", "--tap",
                                            "tcp://127.0.0.1:2"};
  BrokerOptions e;
  ASSERT_TRUE(ExtractBrokerOptions(&explicit_args, &e).ok());
  EXPECT_EQ(*e.BackendEndpoint(), "tcp://127.0.0.1:1");
  EXPECT_EQ(*e.TapEndpoint(), "tcp://127.0.0.1:2");
}

TEST(CliOptionsTest, BadBrokerOptionsAreUsageErrors) {
  std::vector<std::string> a = {"--broker", "127.0.0.1:7400"};
  BrokerOptions o;
  EXPECT_FALSE(ExtractBrokerOptions(&a, &o).ok());
  std::vector<std::string> b = {"--curve-key", "me"};
  BrokerOptions p;
  Status s = ExtractBrokerOptions(&b, &p);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--server-key"), std::string::npos);
  std::vector<std::string> c = {"--broker"};
  BrokerOptions q;
  EXPECT_FALSE(ExtractBrokerOptions(&c, &q).ok());
}

TEST(CliOptionsTest, CurveKeyNamesBecomeKeyFiles) {
  std::vector<std::string> a = {"--curve-key", "keys/web-1", "--server-key", "keys/broker.pub"};
  BrokerOptions o;
  ASSERT_TRUE(ExtractBrokerOptions(&a, &o).ok());
  Result<transport::LinkConfig> link = o.ToLinkConfig();
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(link->curve.enabled);
  EXPECT_EQ(link->curve.secret_key_file, "keys/web-1.key");
  EXPECT_EQ(link->curve.public_key_file, "keys/web-1.pub");
  EXPECT_EQ(link->curve.server_public_key_file, "keys/broker.pub");
}

}  // namespace
}  // namespace hw::cli

namespace hw::cli {
namespace {

TEST(CliOptionsTest, HelpAndUsageErrorsAreShared) {
  EXPECT_TRUE(WantsHelp({"x", "-h"}));
  EXPECT_TRUE(WantsHelp({"--help"}));
  EXPECT_FALSE(WantsHelp({"--helpful"}));
  ::testing::internal::CaptureStderr();
  const int rc = UsageError("send", "usage: hostwatch send METRIC VALUE\n\nMore words.\n",
                            Status::InvalidArgument("need METRIC"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(err,
            "hostwatch send: need METRIC\nusage: hostwatch send METRIC VALUE\n"
            "(hostwatch send --help for more)\n");
}

}  // namespace
}  // namespace hw::cli
