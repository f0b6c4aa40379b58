#include "common/io/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace hw::io {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c(std::string_view("")), 0u);
  EXPECT_EQ(Crc32c(std::string_view("123456789")), 0xE3069283u);  // the standard check value
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);  // RFC 3720 B.4: 32 bytes of 0xff
}

TEST(Crc32cTest, ExtendsInPieces) {
  std::string s = "hostwatch spool record payload, long enough to cross several 8-byte words";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t whole = Crc32c(s);
    uint32_t parts =
        Crc32c(std::string_view(s).substr(cut), Crc32c(std::string_view(s).substr(0, cut)));
    ASSERT_EQ(whole, parts) << cut;
  }
}

TEST(Crc32cTest, DetectsOneFlippedBit) {
  std::string s(1000, 'a');
  uint32_t before = Crc32c(s);
  s[500] ^= 0x10;
  EXPECT_NE(before, Crc32c(s));
}

}  // namespace
}  // namespace hw::io
