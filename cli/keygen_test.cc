#include "cli/keygen.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zmq.h>

#include "common/testing/temp_dir.h"
#include "common/transport/link_config.h"

namespace hw::cli {
namespace {

TEST(KeygenTest, WritesAMatchingPairWithASecretMode) {
  testing::TempDir dir;
  Result<KeyPair> pair = GenerateKeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  ASSERT_TRUE(WriteKeyPair(dir.path(), "broker", *pair).ok());

  struct stat st {};
  ASSERT_EQ(stat((dir.path() / "broker.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Result<std::string> secret = transport::ReadZ85KeyFile((dir.path() / "broker.key").string());
  Result<std::string> pub = transport::ReadZ85KeyFile((dir.path() / "broker.pub").string());
  ASSERT_TRUE(secret.ok() && pub.ok());
  // The public key really belongs to the secret one.
  char derived[41] = {};
  ASSERT_EQ(zmq_curve_public(derived, secret->c_str()), 0);
  EXPECT_EQ(std::string(derived), *pub);
}

TEST(KeygenTest, NeverOverwritesAKey) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteKeyPair(dir.path(), "c1", *GenerateKeyPair()).ok());
  Status again = WriteKeyPair(dir.path(), "c1", *GenerateKeyPair());
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
}

TEST(KeygenTest, RejectsPathsAsNames) {
  testing::TempDir dir;
  EXPECT_EQ(WriteKeyPair(dir.path(), "../evil", *GenerateKeyPair()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteKeyPair(dir.path(), "", *GenerateKeyPair()).code(), StatusCode::kInvalidArgument);
}

TEST(KeygenTest, ReadKeyFileRejectsGarbage) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteFile(dir.path() / "bad.pub", "not-a-key\n").ok());
  EXPECT_FALSE(transport::ReadZ85KeyFile((dir.path() / "bad.pub").string()).ok());
  EXPECT_FALSE(transport::ReadZ85KeyFile((dir.path() / "missing.pub").string()).ok());
}

}  // namespace
}  // namespace hw::cli
