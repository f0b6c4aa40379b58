#include "broker/journal/partition.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/base/mutex.h"
#include "common/io/crc32c.h"
#include "common/io/segmented_log.h"
#include "common/testing/temp_dir.h"

namespace hw::broker {
namespace {

constexpr uint64_t kSegHeader = io::SegmentedLog::kSegmentHeaderBytes;  // at each file's start
constexpr uint64_t kHeaderBytes = io::SegmentedLog::kRecordHeaderBytes;
constexpr size_t kRecordBytes = 100;  // payload size in most tests: 116 bytes on disk per record
constexpr uint64_t kOnDisk = kHeaderBytes + kRecordBytes;

using Records = std::vector<std::pair<uint64_t, std::string>>;

// Deterministic content for an offset, so a reader can check any record it gets.
std::string Payload(uint64_t offset, size_t size = kRecordBytes) {
  std::string s = "r" + std::to_string(offset) + ":";
  while (s.size() < size) s.push_back(static_cast<char>('a' + (offset + s.size()) % 26));
  s.resize(size);
  return s;
}

std::string SegmentName(uint64_t base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.log", static_cast<unsigned long long>(base));
  return name;
}

std::string Header(uint32_t length, uint32_t crc, uint64_t offset) {
  std::string h(kHeaderBytes, '\0');
  for (int i = 0; i < 4; ++i) h[static_cast<size_t>(i)] = static_cast<char>(length >> (8 * i));
  for (int i = 0; i < 4; ++i) h[static_cast<size_t>(4 + i)] = static_cast<char>(crc >> (8 * i));
  for (int i = 0; i < 8; ++i) h[static_cast<size_t>(8 + i)] = static_cast<char>(offset >> (8 * i));
  return h;
}

void FlipByte(const std::filesystem::path& file, uint64_t pos) {
  Result<std::string> content = hw::testing::ReadFile(file);
  ASSERT_TRUE(content.ok()) << content.status().ToString();
  ASSERT_LT(pos, content->size());
  (*content)[pos] = static_cast<char>((*content)[pos] ^ 0x40);
  ASSERT_TRUE(hw::testing::WriteFile(file, *content).ok());
}

void AppendToFile(const std::filesystem::path& file, std::string_view extra) {
  Result<std::string> content = hw::testing::ReadFile(file);
  ASSERT_TRUE(content.ok()) << content.status().ToString();
  ASSERT_TRUE(hw::testing::WriteFile(file, *content + std::string(extra)).ok());
}

void SetMtime(const std::filesystem::path& file, std::chrono::system_clock::time_point t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(ns / 1000000000);
  times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(ns % 1000000000);
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0) << file;
}

Records ReadAll(const Partition& p, uint64_t from = 0) {
  Records out;
  Status st = p.Read(from, SIZE_MAX, SIZE_MAX, [&](uint64_t offset, std::string_view bytes) {
    out.emplace_back(offset, std::string(bytes));
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::vector<uint64_t> Offsets(const Records& records) {
  std::vector<uint64_t> out;
  for (const auto& r : records) out.push_back(r.first);
  return out;
}

// Offsets first..last except those in `missing`.
std::vector<uint64_t> Range(uint64_t first, uint64_t last, std::vector<uint64_t> missing = {}) {
  std::vector<uint64_t> out;
  for (uint64_t o = first; o <= last; ++o) {
    if (std::find(missing.begin(), missing.end(), o) == missing.end()) out.push_back(o);
  }
  return out;
}

void ExpectContent(const Records& records) {
  for (const auto& [offset, bytes] : records) {
    EXPECT_EQ(bytes, Payload(offset)) << "offset " << offset;
  }
}

class PartitionTest : public ::testing::Test {
 protected:
  PartitionTest() { options_.dir = tmp_.path() / "p0"; }

  std::unique_ptr<Partition> Open(PartitionRecovery* recovery = nullptr) {
    Result<std::unique_ptr<Partition>> p = Partition::Open(options_, recovery);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  // Appends Payload(offset) for offsets next_offset() .. last, one Append each.
  void AppendUpTo(Partition& p, uint64_t last) {
    for (uint64_t o = p.next_offset(); o <= last; ++o) {
      Result<uint64_t> got = p.Append(Payload(o));
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(*got, o);
    }
  }

  std::filesystem::path Segment(uint64_t base) const { return options_.dir / SegmentName(base); }

  hw::testing::TempDir tmp_;
  PartitionOptions options_;
};

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

TEST_F(PartitionTest, RetentionByBytesKeepsActiveSegment) {
  options_.segment_bytes = 1000;  // 5 segments of 8 records, 928 bytes each
  options_.retention_bytes = 1500;
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 40);
  ASSERT_EQ(p->segments(), 5u);

  Result<uint64_t> removed = p->ApplyRetention(std::chrono::system_clock::now());
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 32u);
  EXPECT_EQ(p->segments(), 1u);  // 928 bytes would do, but the active segment always stays
  EXPECT_EQ(p->first_offset(), 33u);
  EXPECT_EQ(p->bytes(), kSegHeader + 8 * kOnDisk);
  EXPECT_FALSE(std::filesystem::exists(Segment(25)));
  EXPECT_TRUE(std::filesystem::exists(Segment(33)));
  EXPECT_EQ(Offsets(ReadAll(*p)), Range(33, 40));

  p.reset();
  options_.retention_bytes = 0;
  p = Open();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->first_offset(), 33u);
  EXPECT_EQ(p->next_offset(), 41u);
  removed = p->ApplyRetention(std::chrono::system_clock::now());
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);
  EXPECT_EQ(p->segments(), 1u);
}

TEST_F(PartitionTest, RetentionByAge) {
  options_.segment_bytes = 1000;  // segments 1-8, 9-16, 17-20
  options_.retention_age = std::chrono::hours(1);
  auto p = Open();
  ASSERT_NE(p, nullptr);
  AppendUpTo(*p, 20);
  const auto now = std::chrono::system_clock::now();
  const auto old = now - std::chrono::hours(2);
  SetMtime(Segment(1), old);

  Result<uint64_t> removed = p->ApplyRetention(now);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 8u);
  EXPECT_EQ(p->first_offset(), 9u);
  EXPECT_EQ(p->segments(), 2u);
  EXPECT_FALSE(std::filesystem::exists(Segment(1)));

  SetMtime(Segment(9), old);
  SetMtime(Segment(17), old);
  removed = p->ApplyRetention(now);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 8u);
  EXPECT_EQ(p->first_offset(), 17u);
  EXPECT_EQ(p->segments(), 1u);  // the active segment stays however old
  EXPECT_EQ(Offsets(ReadAll(*p)), Range(17, 20));
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

size_t ConcurrentSize(uint64_t offset) { return static_cast<size_t>(offset * 7919 % 300 + 1); }

struct ConcurrentRun {
  std::string failure;   // the first problem seen; empty when none
  uint64_t skipped = 0;  // offsets readers jumped over because retention removed them
};

// Appends Payload(offset, ConcurrentSize(offset)) for offsets 1..records, as single appends and
// batches of up to 64, while two reader threads follow and check every record they get. With
// retention, the writer applies it after every append, and a reader may jump forward, but only to
// an offset that retention has made the oldest one kept.
ConcurrentRun WriteWhileReading(Partition& p, uint64_t records, bool retention) {
  struct {
    Mutex mu;
    ConcurrentRun run GUARDED_BY(mu);
  } shared;
  std::atomic<bool> failed{false};
  auto fail = [&](std::string what) {
    MutexLock lock(&shared.mu);
    if (!failed.exchange(true)) shared.run.failure = std::move(what);
  };
  auto reader = [&] {
    uint64_t expected = 1;
    uint64_t skipped = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (expected <= records && !failed.load()) {
      if (std::chrono::steady_clock::now() > deadline) return fail("reader timed out");
      const uint64_t before = expected;
      Status st = p.Read(expected, 700, 48 << 10, [&](uint64_t offset, std::string_view bytes) {
        if (offset != expected) {
          if (!retention || offset < expected || offset > p.first_offset()) {
            fail("expected offset " + std::to_string(expected) + ", got " + std::to_string(offset));
            return false;
          }
          skipped += offset - expected;
          expected = offset;
        }
        if (bytes != Payload(offset, ConcurrentSize(offset))) {
          fail("wrong content at offset " + std::to_string(offset));
          return false;
        }
        ++expected;
        return true;
      });
      if (!st.ok()) return fail(st.ToString());
      if (expected == before) std::this_thread::yield();  // caught up with the writer
    }
    MutexLock lock(&shared.mu);
    shared.run.skipped += skipped;
  };
  std::thread reader1(reader);
  std::thread reader2(reader);

  std::vector<std::string> batch;
  for (uint64_t o = 1; o <= records;) {
    const uint64_t n = std::min<uint64_t>(o % 3 == 0 ? 1 : o % 64 + 1, records - o + 1);
    batch.clear();
    for (uint64_t k = 0; k < n; ++k) batch.push_back(Payload(o + k, ConcurrentSize(o + k)));
    Result<uint64_t> got =
        n == 1 ? p.Append(batch[0]) : p.AppendBatch({batch.begin(), batch.end()});
    if (!got.ok() || *got != o) {
      fail("append at " + std::to_string(o) + ": " +
           (got.ok() ? "got offset " + std::to_string(*got) : got.status().ToString()));
      break;
    }
    if (retention) {
      Result<uint64_t> removed = p.ApplyRetention(std::chrono::system_clock::now());
      if (!removed.ok()) {
        fail("retention: " + removed.status().ToString());
        break;
      }
    }
    o += n;
  }
  reader1.join();
  reader2.join();
  MutexLock lock(&shared.mu);
  return shared.run;
}

TEST_F(PartitionTest, ConcurrentReaderSeesOnlyWholeRecords) {
  options_.segment_bytes = 256 << 10;  // many rolls while the readers read
  auto p = Open();
  ASSERT_NE(p, nullptr);
  const ConcurrentRun run = WriteWhileReading(*p, 50000, /*retention=*/false);
  EXPECT_EQ(run.failure, "");
  EXPECT_EQ(p->next_offset(), 50001u);
  EXPECT_GT(p->segments(), 20u);
}

TEST_F(PartitionTest, ConcurrentReadersSurviveRetention) {
  options_.segment_bytes = 64 << 10;
  options_.retention_bytes = 256 << 10;  // segments go while readers may still be in them
  auto p = Open();
  ASSERT_NE(p, nullptr);
  const ConcurrentRun run = WriteWhileReading(*p, 30000, /*retention=*/true);
  EXPECT_EQ(run.failure, "");
  EXPECT_EQ(p->next_offset(), 30001u);
  EXPECT_GT(p->first_offset(), 20000u);
  EXPECT_LE(p->segments(), 6u);
  std::printf("readers skipped %llu offsets removed by retention\n",
              static_cast<unsigned long long>(run.skipped));
}

// Not a pass/fail test: prints the hot path's rate. 64 x 1 KiB records per AppendBatch, no fsync.
TEST_F(PartitionTest, AppendBatchThroughput) {
  auto p = Open();
  ASSERT_NE(p, nullptr);
  constexpr size_t kBatch = 64;
  constexpr size_t kBatches = 2000;
  const std::string record(1024, 'e');
  const std::vector<std::string_view> batch(kBatch, record);

  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < kBatches; ++i) {
    Result<uint64_t> got = p->AppendBatch(batch);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double records = static_cast<double>(kBatch * kBatches);
  std::printf("AppendBatch 64 x 1 KiB: %.0f records/s, %.1f MB/s (%.0f records in %.3f s)\n",
              records / secs, records * 1024 / secs / 1e6, records, secs);

  uint64_t read = 0;
  const auto read_start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p->Read(1, SIZE_MAX, SIZE_MAX, [&](uint64_t, std::string_view bytes) {
                 read += bytes.size() == 1024 ? 1 : 0;
                 return true;
               }).ok());
  const double read_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();
  std::printf("Read: %.0f records/s\n", static_cast<double>(read) / read_secs);

  EXPECT_EQ(p->next_offset(), kBatch * kBatches + 1);
  EXPECT_EQ(read, kBatch * kBatches);
  EXPECT_EQ(p->bytes(), p->segments() * kSegHeader + kBatch * kBatches * (kHeaderBytes + 1024));
}

}  // namespace
}  // namespace hw::broker

namespace hw::broker {
namespace {

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
