#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "common/consumer/backoff.h"
#include "common/consumer/secret.h"
#include "common/testing/temp_dir.h"

namespace hw::consumer {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, DoublesFromInitialToMaxWithJitterInTheUpperHalf) {
  uint64_t r = 0;
  Backoff b(100ms, 30s, [&r] { return r++; });
  std::chrono::milliseconds base = 100ms;
  for (int i = 0; i < 12; ++i) {
    const std::chrono::milliseconds d = b.Next();
    EXPECT_GE(d, base / 2) << i;
    EXPECT_LE(d, base) << i;
    base = std::min<std::chrono::milliseconds>(base * 2, 30s);
  }
  EXPECT_EQ(b.failures(), 12u);
  // At the cap the delay stays within [15 s, 30 s].
  EXPECT_GE(b.Next(), 15s);
  b.Reset();
  EXPECT_EQ(b.failures(), 0u);
  EXPECT_LE(b.Next(), 100ms);
}

TEST(BackoffTest, JitterSpreadsDelays) {
  Backoff a(1000ms, 30s, [] { return uint64_t{0}; });
  Backoff b(1000ms, 30s, [] { return ~uint64_t{0}; });
  EXPECT_NE(a.Next(), b.Next());
}

TEST(SecretTest, FromFileWithoutTheTrailingNewline) {
  hw::testing::TempDir dir;
  const std::string path = (dir.path() / "pw").string();
  std::ofstream(path) << "s3cret\n";
  ::chmod(path.c_str(), 0600);
  Result<std::string> got = LoadSecret({path, ""});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "s3cret");
  EXPECT_EQ(DescribeSecret({path, ""}), "file " + path);
}

TEST(SecretTest, AWorldReadableFileIsRefusedWithoutShowingTheSecret) {
  hw::testing::TempDir dir;
  const std::string path = (dir.path() / "pw").string();
  std::ofstream(path) << "s3cret\n";
  ::chmod(path.c_str(), 0644);
  Result<std::string> got = LoadSecret({path, ""});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(got.status().message().find("s3cret"), std::string::npos);
}

TEST(SecretTest, FromTheEnvironment) {
  ::setenv("HW_SECRET_TEST_PW", "from-env", 1);
  Result<std::string> got = LoadSecret({"", "HW_SECRET_TEST_PW"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "from-env");
  ::unsetenv("HW_SECRET_TEST_PW");
  EXPECT_FALSE(LoadSecret({"", "HW_SECRET_TEST_PW"}).ok());
  EXPECT_EQ(*LoadSecret({}), "");
}

}  // namespace
}  // namespace hw::consumer
