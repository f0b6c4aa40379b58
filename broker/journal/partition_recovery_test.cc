#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "broker/journal/partition.h"
#include "broker/journal/partition_test_util.h"
#include "common/io/crc32c.h"

namespace hw::broker {
namespace {

using namespace partition_testing;

TEST_F(PartitionTest, TruncatesGarbageTail) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 10);
  p.reset();
  AppendToFile(Segment(1), std::string(37, 'x'));

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.truncated_bytes, 37u);
  EXPECT_EQ(rec.corrupt_records, 0u);
  EXPECT_EQ(rec.records, 10u);
  EXPECT_EQ(std::filesystem::file_size(Segment(1)), kSegHeader + 10 * kOnDisk);
  EXPECT_EQ(p->next_offset(), 11u);
  EXPECT_EQ(p->Append(Payload(11)).value_or(0), 11u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 11));
  ExpectContent(all);
}

TEST_F(PartitionTest, TornHeaderAtEnd) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 5);
  p.reset();
  const std::string next = Payload(6);
  AppendToFile(Segment(1), Header(kRecordBytes, io::Crc32c(next), 6).substr(0, 7));

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.truncated_bytes, 7u);
  EXPECT_EQ(rec.records, 5u);
  EXPECT_EQ(p->next_offset(), 6u);
  EXPECT_EQ(p->Append(next).value_or(0), 6u);
  EXPECT_EQ(Offsets(ReadAll(*p)), Range(1, 6));
}

TEST_F(PartitionTest, TornPayloadAtEnd) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 5);
  p.reset();
  const std::string next = Payload(6);
  AppendToFile(Segment(1), Header(kRecordBytes, io::Crc32c(next), 6) + next.substr(0, 40));

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.truncated_bytes, kHeaderBytes + 40);
  EXPECT_EQ(rec.records, 5u);
  EXPECT_EQ(p->next_offset(), 6u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 5));
  ExpectContent(all);
}

TEST_F(PartitionTest, SkipsFlippedByteInSealedSegment) {
  options_.segment_bytes = 1000;  // segments 1-8, 9-16, 17-20
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 20);
  p.reset();
  FlipByte(Segment(1), kSegHeader + 3 * kOnDisk + kHeaderBytes + 50);  // payload of offset 4

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.corrupt_records, 1u);
  EXPECT_EQ(rec.records, 19u);
  EXPECT_EQ(rec.truncated_bytes, 0u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 20, {4}));
  ExpectContent(all);
  EXPECT_EQ(Offsets(ReadAll(*p, 4)).front(), 5u);
  EXPECT_EQ(p->next_offset(), 21u);
}

TEST_F(PartitionTest, SkipsCorruptLastRecordOfSealedSegment) {
  options_.segment_bytes = 1000;
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 20);
  p.reset();
  FlipByte(Segment(1), kSegHeader + 7 * kOnDisk + kHeaderBytes + 99);  // last byte of offset 8

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.corrupt_records, 1u);
  EXPECT_EQ(rec.records, 19u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 20, {8}));
  ExpectContent(all);
  // A read starting in the hole continues in the next segment.
  Records one;
  ASSERT_TRUE(p->Read(8, 1, SIZE_MAX, [&](uint64_t offset, std::string_view bytes) {
                 one.emplace_back(offset, std::string(bytes));
                 return true;
               }).ok());
  EXPECT_EQ(Offsets(one), std::vector<uint64_t>{9});
}

TEST_F(PartitionTest, ResyncsAfterCorruptHeadersInSealedSegments) {
  options_.segment_bytes = 1000;
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 20);
  p.reset();
  FlipByte(Segment(1),
           kSegHeader + 3 * kOnDisk + 3);  // length of offset 4 becomes 1 GiB and then some
  FlipByte(Segment(9), kSegHeader + 3 * kOnDisk + 8);  // offset field of offset 12 now says 76

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.corrupt_records, 2u);
  EXPECT_EQ(rec.records, 18u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 20, {4, 12}));
  ExpectContent(all);
}

TEST_F(PartitionTest, SkipsFlippedByteInLastSegmentKeepingLaterRecords) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 10);
  p.reset();
  FlipByte(Segment(1), kSegHeader + 4 * kOnDisk + kHeaderBytes + 10);  // payload of offset 5

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.corrupt_records, 1u);
  EXPECT_EQ(rec.truncated_bytes, 0u);
  EXPECT_EQ(rec.records, 9u);
  EXPECT_EQ(p->next_offset(), 11u);
  EXPECT_EQ(p->Append(Payload(11)).value_or(0), 11u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 11, {5}));
  ExpectContent(all);
}

TEST_F(PartitionTest, TruncatesCorruptLastRecordOfLastSegment) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 10);
  p.reset();
  FlipByte(Segment(1),
           kSegHeader + 9 * kOnDisk + kHeaderBytes + 10);  // payload of offset 10, nothing after it

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.truncated_bytes, kOnDisk);
  EXPECT_EQ(rec.corrupt_records, 0u);
  EXPECT_EQ(rec.records, 9u);
  EXPECT_EQ(p->next_offset(), 10u);
  EXPECT_EQ(p->Append(Payload(10)).value_or(0), 10u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 10));
  ExpectContent(all);
}

// A partition written by the format 1 code (testdata/old_format: offsets 1..5 of 24 bytes in
// segments [1..3] [4..5]) still recovers: its records read back, a torn tail on its last segment
// is cut, and appends go to a new format 2 segment.
TEST(PartitionFormatTest, RecoversAFormat1Partition) {
  hw::testing::TempDir tmp;
  PartitionOptions o;
  o.dir = tmp.path() / "p0";
  std::filesystem::copy(std::filesystem::path(HW_SOURCE_DIR) / "broker/journal/testdata/old_format",
                        o.dir);
  AppendToFile(o.dir / SegmentName(4), std::string(40, '\0'));  // zeros: torn, not records
  auto expected = [](uint64_t offset) {
    std::string r = "old-journal-record-" + std::to_string(offset);
    r.resize(24, '.');
    return r;
  };
  for (int round = 0; round < 2; ++round) {
    PartitionRecovery rec;
    Result<std::unique_ptr<Partition>> p = Partition::Open(o, &rec);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(rec.truncated_bytes, round == 0 ? 40u : 0u);
    EXPECT_EQ(rec.corrupt_records, 0u);
    EXPECT_EQ(rec.records, round == 0 ? 5u : 6u);
    if (round == 0) {
      EXPECT_EQ((*p)->Append("new").value_or(0), 6u);
      EXPECT_TRUE(std::filesystem::exists(o.dir / SegmentName(6)));
      EXPECT_EQ(std::filesystem::file_size(o.dir / SegmentName(4)), 2 * (16 + 24u));
    }
    Records all = ReadAll(**p);
    ASSERT_EQ(Offsets(all), Range(1, 6));
    for (uint64_t i = 1; i <= 5; ++i) EXPECT_EQ(all[i - 1].second, expected(i));
    EXPECT_EQ(all[5].second, "new");
  }
}

}  // namespace
}  // namespace hw::broker
