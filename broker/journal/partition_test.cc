#include "broker/journal/partition.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "broker/journal/partition_test_util.h"

namespace hw::broker {
namespace {

using namespace partition_testing;

TEST_F(PartitionTest, EmptyPartition) {
  PartitionRecovery rec;
  rec.records = 99;  // Open resets it
  auto p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.records, 0u);
  EXPECT_EQ(rec.truncated_bytes, 0u);
  EXPECT_EQ(rec.corrupt_records, 0u);
  EXPECT_EQ(p->first_offset(), 1u);
  EXPECT_EQ(p->next_offset(), 1u);
  EXPECT_EQ(p->bytes(), kSegHeader);  // the empty active segment
  EXPECT_EQ(p->segments(), 1u);
  EXPECT_TRUE(std::filesystem::exists(Segment(1)));
  EXPECT_TRUE(ReadAll(*p).empty());
  EXPECT_TRUE(p->Sync().ok());
  Result<uint64_t> removed = p->ApplyRetention(std::chrono::system_clock::now());
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);

  p.reset();
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->next_offset(), 1u);
  EXPECT_TRUE(ReadAll(*p).empty());
}

TEST_F(PartitionTest, AppendsAndReadsBack) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  const std::string binary("a\0b\xff", 4);
  ASSERT_EQ(p->Append("first").value_or(0), 1u);
  ASSERT_EQ(p->Append("").value_or(0), 2u);
  ASSERT_EQ(p->Append(binary).value_or(0), 3u);
  EXPECT_EQ(p->next_offset(), 4u);
  EXPECT_EQ(p->bytes(), kSegHeader + 3 * kHeaderBytes + 5 + 0 + 4);
  EXPECT_EQ(ReadAll(*p), (Records{{1, "first"}, {2, ""}, {3, binary}}));
  EXPECT_EQ(ReadAll(*p, 3), (Records{{3, binary}}));
}

TEST_F(PartitionTest, OffsetsSurviveReopen) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 5);
  ASSERT_TRUE(p->Sync().ok());
  p.reset();

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.records, 5u);
  EXPECT_EQ(rec.truncated_bytes, 0u);
  EXPECT_EQ(rec.corrupt_records, 0u);
  EXPECT_EQ(p->first_offset(), 1u);
  EXPECT_EQ(p->next_offset(), 6u);
  EXPECT_EQ(p->bytes(), kSegHeader + 5 * kOnDisk);
  EXPECT_EQ(p->Append(Payload(6)).value_or(0), 6u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 6));
  ExpectContent(all);
}

TEST_F(PartitionTest, SecondOpenOfSameDirectoryFails) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  Result<std::unique_ptr<Partition>> again = Partition::Open(options_, nullptr);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  p.reset();
  EXPECT_TRUE(Partition::Open(options_, nullptr).ok());
}

TEST_F(PartitionTest, AppendBatchAssignsConsecutiveOffsets) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->Append("a").value_or(0), 1u);
  ASSERT_EQ(p->AppendBatch({"b", "c", "d"}).value_or(0), 2u);
  ASSERT_EQ(p->Append("e").value_or(0), 5u);
  ASSERT_EQ(p->AppendBatch({}).value_or(0), 6u);  // nothing appended: the offset it would have had
  EXPECT_EQ(p->next_offset(), 6u);
  EXPECT_EQ(ReadAll(*p), (Records{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}}));
}

TEST_F(PartitionTest, AppendBatchBeyondIovMaxWritesEveryRecord) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  // 3000 records need 6000 iovecs: several writev calls.
  std::vector<std::string> payloads;
  for (uint64_t o = 1; o <= 3000; ++o) payloads.push_back(Payload(o));
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  ASSERT_EQ(p->AppendBatch(views).value_or(0), 1u);
  EXPECT_EQ(p->next_offset(), 3001u);
  p.reset();

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.records, 3000u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 3000));
  ExpectContent(all);
}

TEST_F(PartitionTest, AppendBatchSpansSegments) {
  options_.segment_bytes = 1000;  // 8 records of 116 bytes per segment
  auto p = Open();
  ASSERT_NE(p, nullptr);
  std::vector<std::string> payloads;
  for (uint64_t o = 1; o <= 50; ++o) payloads.push_back(Payload(o));
  ASSERT_EQ(p->AppendBatch({payloads.begin(), payloads.end()}).value_or(0), 1u);
  EXPECT_EQ(p->segments(), 7u);
  for (uint64_t base = 1; base <= 49; base += 8) {
    ASSERT_TRUE(std::filesystem::exists(Segment(base))) << base;
    EXPECT_LE(std::filesystem::file_size(Segment(base)), kSegHeader + options_.segment_bytes);
  }
  p.reset();
  p = Open();
  ASSERT_NE(p, nullptr);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 50));
  ExpectContent(all);
}

TEST_F(PartitionTest, RejectsRecordOverMaxRecordBytes) {
  options_.max_record_bytes = 100;
  auto p = Open();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Append(std::string(101, 'x')).status().code(), StatusCode::kInvalidArgument);
  const std::string ok(100, 'y');
  const std::string big(101, 'z');
  EXPECT_EQ(p->AppendBatch({ok, big}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p->next_offset(), 1u);  // nothing of the rejected batch was appended
  EXPECT_EQ(p->Append(ok).value_or(0), 1u);
}

TEST_F(PartitionTest, RollsSegments) {
  options_.segment_bytes = 1000;
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 20);
  EXPECT_EQ(p->segments(), 3u);
  EXPECT_EQ(std::filesystem::file_size(Segment(1)), kSegHeader + 8 * kOnDisk);
  EXPECT_EQ(std::filesystem::file_size(Segment(9)), kSegHeader + 8 * kOnDisk);
  EXPECT_EQ(std::filesystem::file_size(Segment(17)), kSegHeader + 4 * kOnDisk);
  EXPECT_EQ(p->bytes(), 3 * kSegHeader + 20 * kOnDisk);
  EXPECT_TRUE(p->Sync().ok());
  p.reset();

  PartitionRecovery rec;
  p = Open(&rec);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(rec.records, 20u);
  EXPECT_EQ(p->segments(), 3u);
  Records all = ReadAll(*p);
  EXPECT_EQ(Offsets(all), Range(1, 20));
  ExpectContent(all);
  EXPECT_EQ(p->Append(Payload(21)).value_or(0), 21u);
  EXPECT_EQ(std::filesystem::file_size(Segment(17)), kSegHeader + 5 * kOnDisk);
}

TEST_F(PartitionTest, RecordLargerThanSegmentGetsItsOwnSegment) {
  options_.segment_bytes = 200;
  auto p = Open();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->Append("small").value_or(0), 1u);
  ASSERT_EQ(p->Append(std::string(500, 'L')).value_or(0), 2u);
  ASSERT_EQ(p->Append("small again").value_or(0), 3u);
  EXPECT_EQ(p->segments(), 3u);
  EXPECT_EQ(std::filesystem::file_size(Segment(2)), kSegHeader + kHeaderBytes + 500);
  EXPECT_EQ(ReadAll(*p, 2).at(0).second, std::string(500, 'L'));
}

TEST_F(PartitionTest, ReadSaysWhereToResume) {
  options_.segment_bytes = 1000;  // 8 records a segment: bases 1, 9, 17
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 20);
  p.reset();
  FlipByte(Segment(1), kSegHeader + 7 * kOnDisk + kHeaderBytes + 99);   // offset 8 is lost
  FlipByte(Segment(17), kSegHeader + 2 * kOnDisk + kHeaderBytes + 99);  // and offset 19
  p = Open();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->next_offset(), 21u);
  const auto all = [](uint64_t, std::string_view) { return true; };
  uint64_t resume = 0;
  // Stopped by the record limit: right after the last record delivered.
  ASSERT_TRUE(p->Read(1, 3, SIZE_MAX, all, &resume).ok());
  EXPECT_EQ(resume, 4u);
  // Stopped by the callback: that record counts as delivered.
  ASSERT_TRUE(p->Read(
                   5, 100, SIZE_MAX, [](uint64_t o, std::string_view) { return o < 6; }, &resume)
                  .ok());
  EXPECT_EQ(resume, 7u);
  // Starting in a hole, one record: past the hole and that record.
  ASSERT_TRUE(p->Read(8, 1, SIZE_MAX, all, &resume).ok());
  EXPECT_EQ(resume, 10u);
  // Caught up: the end of the partition.
  ASSERT_TRUE(p->Read(15, 100, SIZE_MAX, all, &resume).ok());
  EXPECT_EQ(resume, 21u);
  ASSERT_TRUE(p->Read(21, 100, SIZE_MAX, all, &resume).ok());
  EXPECT_EQ(resume, 21u);
}

TEST_F(PartitionTest, ReadFromBelowFirstOffset) {
  options_.segment_bytes = 1000;
  options_.retention_bytes = 1000;
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 20);
  ASSERT_TRUE(p->ApplyRetention(std::chrono::system_clock::now()).ok());
  ASSERT_EQ(p->first_offset(), 17u);

  for (uint64_t from : {0u, 1u, 16u}) {
    Records got;
    ASSERT_TRUE(p->Read(from, 3, SIZE_MAX, [&](uint64_t offset, std::string_view bytes) {
                   got.emplace_back(offset, std::string(bytes));
                   return true;
                 }).ok());
    EXPECT_EQ(Offsets(got), Range(17, 19)) << "from " << from;
    ExpectContent(got);
  }
  EXPECT_TRUE(ReadAll(*p, 21).empty());
  EXPECT_TRUE(ReadAll(*p, 1000).empty());
}

TEST_F(PartitionTest, ReadRespectsMaxBytesAndStop) {
  options_.segment_bytes = 300;  // 2 records per segment, so reads cross segments
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 10);
  ASSERT_EQ(p->segments(), 5u);

  auto read = [&](uint64_t from, size_t max_records, size_t max_bytes, size_t stop_after) {
    std::vector<uint64_t> got;
    Status st = p->Read(from, max_records, max_bytes, [&](uint64_t offset, std::string_view) {
      got.push_back(offset);
      return got.size() < stop_after;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return got;
  };
  // Stops once the delivered bytes reach max_bytes: 300 >= 250.
  EXPECT_EQ(read(1, 100, 250, SIZE_MAX), Range(1, 3));
  EXPECT_EQ(read(1, 100, 450, SIZE_MAX), Range(1, 5));
  EXPECT_EQ(read(1, 100, 100, SIZE_MAX), Range(1, 1));
  // Always at least one record, however small max_bytes.
  EXPECT_EQ(read(4, 100, 0, SIZE_MAX), Range(4, 4));
  EXPECT_EQ(read(2, 4, SIZE_MAX, SIZE_MAX), Range(2, 5));
  EXPECT_EQ(read(1, 0, SIZE_MAX, SIZE_MAX), std::vector<uint64_t>{});
  // fn returning false stops right there.
  EXPECT_EQ(read(3, 100, SIZE_MAX, 2), Range(3, 4));
  EXPECT_EQ(read(1, SIZE_MAX, SIZE_MAX, SIZE_MAX), Range(1, 10));
}

}  // namespace
}  // namespace hw::broker
