#include "common/transport/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/testing/temp_dir.h"

namespace hw::transport {
namespace {

TEST(CurveKeysTest, WritesAMatchingPairWithASecretMode) {
  testing::TempDir dir;
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "broker", *pair).ok());

  struct stat st {};
  ASSERT_EQ(stat((dir.path() / "broker.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir.path() / "broker.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  Result<std::string> secret = ReadZ85KeyFile((dir.path() / "broker.key").string());
  Result<std::string> pub = ReadZ85KeyFile((dir.path() / "broker.pub").string());
  ASSERT_TRUE(secret.ok() && pub.ok());
  EXPECT_EQ(*secret, pair->secret_z85);
  EXPECT_EQ(*pub, pair->public_z85);
  // The public key really belongs to the secret one.
  EXPECT_TRUE(CheckCurveKeyPair(*secret, *pub, "broker.key", "broker.pub").ok());
}

TEST(CurveKeysTest, FilesAreOneKeyAndANewline) {
  testing::TempDir dir;
  CurveKeyPair pair = *GenerateCurveKeyPair();
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "c1", pair).ok());
  EXPECT_EQ(testing::ReadFile(dir.path() / "c1.key").value_or(""), pair.secret_z85 + "\n");
  EXPECT_EQ(testing::ReadFile(dir.path() / "c1.pub").value_or(""), pair.public_z85 + "\n");
}

TEST(CurveKeysTest, NeverOverwritesAKey) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "c1", *GenerateCurveKeyPair()).ok());
  Status again = WriteCurveKeyPair(dir.path(), "c1", *GenerateCurveKeyPair());
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
}

TEST(CurveKeysTest, RejectsPathsAsNames) {
  testing::TempDir dir;
  EXPECT_EQ(WriteCurveKeyPair(dir.path(), "../evil", *GenerateCurveKeyPair()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCurveKeyPair(dir.path(), "", *GenerateCurveKeyPair()).code(),
            StatusCode::kInvalidArgument);
}

TEST(CurveKeysTest, ReadAcceptsACrLfLineAndRejectsGarbage) {
  testing::TempDir dir;
  const CurveKeyPair pair = *GenerateCurveKeyPair();
  ASSERT_TRUE(testing::WriteFile(dir.path() / "crlf.pub", pair.public_z85 + "\r\n").ok());
  EXPECT_EQ(ReadZ85KeyFile((dir.path() / "crlf.pub").string()).value_or(""), pair.public_z85);
  ASSERT_TRUE(testing::WriteFile(dir.path() / "bad.pub", "not-a-key\n").ok());
  EXPECT_EQ(ReadZ85KeyFile((dir.path() / "bad.pub").string()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(ReadZ85KeyFile((dir.path() / "missing.pub").string()).ok());
}

TEST(CurveKeysTest, MismatchedPairNamesBothFiles) {
  const CurveKeyPair a = *GenerateCurveKeyPair();
  const CurveKeyPair b = *GenerateCurveKeyPair();
  Status s = CheckCurveKeyPair(a.secret_z85, b.public_z85, "a.key", "b.pub");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "b.pub is not the public key of a.key");
}

TEST(CurveKeysTest, Z85RoundTripsAndRejectsWrongLengths) {
  const CurveKeyPair pair = *GenerateCurveKeyPair();
  std::optional<std::string> raw = DecodeZ85Key(pair.public_z85);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_EQ(EncodeZ85Key(*raw), pair.public_z85);
  EXPECT_EQ(DecodeZ85Key(pair.public_z85.substr(1)), std::nullopt);
  EXPECT_EQ(DecodeZ85Key(""), std::nullopt);
}

}  // namespace
}  // namespace hw::transport
