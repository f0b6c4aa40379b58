#include "common/io/segmented_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/io/crc32c.h"
#include "common/io/file_io.h"
#include "common/testing/temp_dir.h"

namespace hw::io {
namespace {

namespace fs = std::filesystem;
using namespace std::literals;
using Records = std::vector<std::pair<uint64_t, std::string>>;

constexpr uint64_t kSegHeader = SegmentedLog::kSegmentHeaderBytes;
constexpr uint64_t kHeader = SegmentedLog::kRecordHeaderBytes;
constexpr uint64_t kOnDisk = kHeader + 20;  // Payload() is 20 bytes

std::string Payload(uint64_t i) {
  std::string p = "payload-" + std::to_string(i) + "-";
  p.resize(20, static_cast<char>('a' + i % 26));
  return p;
}

std::string Name(uint64_t first, const char* suffix = ".log") {
  char b[32];
  std::snprintf(b, sizeof b, "%020llu%s", static_cast<unsigned long long>(first), suffix);
  return b;
}

// A format 1 record, as the spool (with_index false) or the journal wrote it before format 2.
std::string LegacyRecord(std::string_view bytes, uint64_t index, bool with_index) {
  std::string r;
  AppendFixed32(&r, static_cast<uint32_t>(bytes.size()));
  AppendFixed32(&r, Crc32c(bytes));
  if (with_index) AppendFixed64(&r, index);
  r.append(bytes);
  return r;
}

class SegmentedLogTest : public ::testing::Test {
 protected:
  SegmentedLogTest() {
    options_.dir = tmp_.path() / "log";
    options_.suffix = ".log";
    options_.what = "test log";
  }

  std::unique_ptr<SegmentedLog> Open(SegmentedLogRecovery* recovery = nullptr) {
    auto log = SegmentedLog::Open(options_, recovery);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static void AppendUpTo(SegmentedLog& log, uint64_t last) {
    for (uint64_t i = log.next_index(); i <= last; ++i) {
      const std::string p = Payload(i);
      std::string_view v = p;
      auto got = log.Append(&v, 1);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(*got, i);
    }
  }

  static Records ReadAll(const SegmentedLog& log, uint64_t from = 0) {
    Records out;
    Status st = log.Read(from, SIZE_MAX, SIZE_MAX, [&](uint64_t i, std::string_view b) {
      out.emplace_back(i, std::string(b));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  static std::vector<uint64_t> Indexes(const Records& r) {
    std::vector<uint64_t> out;
    for (const auto& [i, b] : r) {
      EXPECT_EQ(b, Payload(i)) << i;
      out.push_back(i);
    }
    return out;
  }

  fs::path File(uint64_t first) const {
    return options_.dir / Name(first, options_.suffix.c_str());
  }

  std::string Content(uint64_t first) const {
    auto c = hw::testing::ReadFile(File(first));
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : std::string();
  }
  void SetContent(uint64_t first, const std::string& content) const {
    ASSERT_TRUE(hw::testing::WriteFile(File(first), content).ok());
  }

  hw::testing::TempDir tmp_;
  SegmentedLogOptions options_;
};

TEST_F(SegmentedLogTest, RecordsAreFramedAsFormat2) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  AppendUpTo(*log, 2);
  const std::string c = Content(1);
  ASSERT_EQ(c.size(), kSegHeader + 2 * kOnDisk);
  EXPECT_EQ(c.substr(0, kSegHeader), "HWSG\x02\x00\x00\x00"s);
  const char* h = c.data() + kSegHeader + kOnDisk;  // record 2
  EXPECT_EQ(GetFixed32(h), 20u);
  EXPECT_EQ(GetFixed64(h + 8), 2u);
  // The stored CRC is crc32c(index, bytes), masked as leveldb does: never the plain CRC.
  const uint32_t crc = Crc32c(Payload(2), Crc32c(h + 8, size_t{8}));
  EXPECT_EQ(GetFixed32(h + 4), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
  EXPECT_EQ(std::string_view(h + kHeader, 20), Payload(2));
}

TEST_F(SegmentedLogTest, IndexesSurviveReopenAndRolls) {
  options_.segment_bytes = 3 * kOnDisk;
  {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    AppendUpTo(*log, 7);
    EXPECT_EQ(log->segment_count(), 3u);  // [1..3] [4..6] [7]
    ASSERT_TRUE(log->Sync().ok());
  }
  SegmentedLogRecovery rec;
  auto log = Open(&rec);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(rec.records, 7u);
  EXPECT_EQ(rec.truncated_bytes, 0u);
  EXPECT_EQ(rec.corrupt_records, 0u);
  EXPECT_TRUE(fs::exists(File(4)));
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(log->bytes(), 3 * kSegHeader + 7 * kOnDisk);
  AppendUpTo(*log, 8);
  EXPECT_EQ(Indexes(ReadAll(*log, 6)), (std::vector<uint64_t>{6, 7, 8}));
}

// What a crash leaves when the file size reached the disk but the data did not (or space was
// preallocated): zeros after the last record. They are a torn tail, not empty records.
TEST_F(SegmentedLogTest, ZeroTailIsTornNotRecords) {
  {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    AppendUpTo(*log, 3);
  }
  ASSERT_EQ(::truncate(File(1).c_str(), static_cast<off_t>(kSegHeader + 3 * kOnDisk + 4096)), 0);
  SegmentedLogRecovery rec;
  auto log = Open(&rec);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(rec.records, 3u);
  EXPECT_EQ(rec.truncated_bytes, 4096u);
  EXPECT_EQ(rec.corrupt_records, 0u);
  EXPECT_EQ(log->next_index(), 4u);
  EXPECT_EQ(fs::file_size(File(1)), kSegHeader + 3 * kOnDisk);
  AppendUpTo(*log, 4);
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 3, 4}));
}

// A segment made only of zeros, in either format 1 framing: no records, cut, and appends go on
// at its first index in a fresh format 2 file.
TEST_F(SegmentedLogTest, SegmentOfOnlyZerosIsTorn) {
  for (LegacyFraming framing : {LegacyFraming::kSpool, LegacyFraming::kJournal}) {
    SCOPED_TRACE(framing == LegacyFraming::kSpool ? "spool" : "journal");
    fs::remove_all(options_.dir);
    fs::create_directories(options_.dir);
    options_.legacy = framing;
    SetContent(5, std::string(1000, '\0'));
    SegmentedLogRecovery rec;
    auto log = Open(&rec);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(rec.records, 0u);
    EXPECT_EQ(rec.truncated_bytes, 1000u);
    EXPECT_TRUE(ReadAll(*log).empty());
    EXPECT_EQ(log->next_index(), 5u);
    EXPECT_EQ(Content(5), "HWSG\x02\x00\x00\x00"s);
    AppendUpTo(*log, 5);
    EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{5}));
  }
}

// Zeros behind the records of a sealed segment are left alone and lose nothing: the next file
// name says where the indexes go on.
TEST_F(SegmentedLogTest, ZerosInSealedSegmentAreSkipped) {
  options_.segment_bytes = 3 * kOnDisk;
  {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    AppendUpTo(*log, 5);
  }
  SetContent(1, Content(1) + std::string(500, '\0'));
  SegmentedLogRecovery rec;
  auto log = Open(&rec);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(rec.records, 5u);
  EXPECT_EQ(rec.corrupt_records, 0u);
  EXPECT_EQ(rec.truncated_bytes, 0u);
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(SegmentedLogTest, TornTailMidRecordAndMidHeaderIsCut) {
  {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    AppendUpTo(*log, 4);
  }
  // Record 4 lost its last 5 payload bytes.
  ASSERT_EQ(::truncate(File(1).c_str(), static_cast<off_t>(kSegHeader + 4 * kOnDisk - 5)), 0);
  SegmentedLogRecovery rec;
  {
    auto log = Open(&rec);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(rec.truncated_bytes, kOnDisk - 5);
    EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 3}));
    AppendUpTo(*log, 4);
  }
  // Half a header.
  SetContent(1, Content(1) + "\x14\x00\x00\x00\x01\x02\x03"s);
  auto log = Open(&rec);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(rec.truncated_bytes, 7u);
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(SegmentedLogTest, CrcMismatchLosesOnlyThatRecord) {
  {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    AppendUpTo(*log, 4);
  }
  std::string c = Content(1);
  c[kSegHeader + 1 * kOnDisk + kHeader + 3] ^= 0x20;  // payload of record 2
  SetContent(1, c);
  SegmentedLogRecovery rec;
  auto log = Open(&rec);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(rec.corrupt_records, 1u);
  EXPECT_EQ(rec.truncated_bytes, 0u);
  EXPECT_EQ(rec.records, 3u);
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(log->next_index(), 5u);
}

// An index field changed: the CRC covers it, so the record does not pass for another.
TEST_F(SegmentedLogTest, CrcCoversTheIndex) {
  {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    AppendUpTo(*log, 2);
  }
  std::string c = Content(1);
  PutFixed64(c.data() + kSegHeader + kOnDisk + 8, 3);  // record 2 now claims index 3
  SetContent(1, c);
  SegmentedLogRecovery rec;
  auto log = Open(&rec);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(rec.truncated_bytes, kOnDisk);  // the last record: cut
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1}));
}

TEST_F(SegmentedLogTest, ReadReportsARecordThatWentBadAfterOpen) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  AppendUpTo(*log, 3);
  {
    UniqueFd fd(::open(File(1).c_str(), O_WRONLY | O_CLOEXEC));  // in place: the log's inode
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::pwrite(fd.get(), "#", 1, kSegHeader + kOnDisk + kHeader + 2), 1);
  }
  Records got;
  auto collect = [&](uint64_t i, std::string_view b) {
    got.emplace_back(i, std::string(b));
    return true;
  };
  Status st = log->Read(1, SIZE_MAX, SIZE_MAX, collect);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);

  got.clear();
  std::vector<uint64_t> bad;
  ASSERT_TRUE(log->Read(1, SIZE_MAX, SIZE_MAX, collect, nullptr, &bad).ok());
  EXPECT_EQ(Indexes(got), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(bad, (std::vector<uint64_t>{2}));
  log->MarkLost(2);
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(log->FirstPresentAtOrAfter(2), 3u);
}

TEST_F(SegmentedLogTest, RemovesWholeSegmentsButNeverTheActiveOne) {
  options_.segment_bytes = 2 * kOnDisk;
  auto log = Open();
  ASSERT_NE(log, nullptr);
  AppendUpTo(*log, 5);  // [1..2] [3..4] [5]
  ASSERT_EQ(log->segment_count(), 3u);
  const uint64_t before = log->bytes();
  auto gone = log->RemoveOldestSegment();
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(gone->first, 1u);
  EXPECT_EQ(gone->next, 3u);
  EXPECT_EQ(gone->records, 2u);
  EXPECT_EQ(gone->bytes, kSegHeader + 2 * kOnDisk);
  EXPECT_EQ(log->bytes(), before - gone->bytes);
  EXPECT_FALSE(fs::exists(File(1)));
  EXPECT_EQ(log->first_index(), 3u);
  EXPECT_EQ(Indexes(ReadAll(*log, 1)), (std::vector<uint64_t>{3, 4, 5}));
  ASSERT_TRUE(log->RemoveOldestSegment().ok());
  auto active = log->RemoveOldestSegment();
  EXPECT_FALSE(active.ok());
  EXPECT_EQ(active.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::exists(File(5)));
  log.reset();
  log = Open();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->first_index(), 5u);
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{5}));
}

TEST_F(SegmentedLogTest, RollSkipsIndexes) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  AppendUpTo(*log, 2);
  EXPECT_FALSE(log->Roll(2).ok());
  ASSERT_TRUE(log->Roll(10).ok());
  EXPECT_EQ(log->next_index(), 10u);
  AppendUpTo(*log, 10);
  log.reset();
  log = Open();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 10}));
  EXPECT_EQ(log->next_index(), 11u);
}

// Format 1 segments (no segment header) are read by their own framing and never appended to.
TEST_F(SegmentedLogTest, ReadsFormat1AndAppendsToANewSegment) {
  for (LegacyFraming framing : {LegacyFraming::kSpool, LegacyFraming::kJournal}) {
    const bool with_index = framing == LegacyFraming::kJournal;
    SCOPED_TRACE(with_index ? "journal" : "spool");
    fs::remove_all(options_.dir);
    fs::create_directories(options_.dir);
    options_.legacy = framing;
    std::string old;
    for (uint64_t i = 1; i <= 3; ++i) old += LegacyRecord(Payload(i), i, with_index);
    SetContent(1, old + "\x14\x00"s);  // and a torn header
    SegmentedLogRecovery rec;
    {
      auto log = Open(&rec);
      ASSERT_NE(log, nullptr);
      EXPECT_EQ(rec.records, 3u);
      EXPECT_EQ(rec.truncated_bytes, 2u);
      EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 3}));
      AppendUpTo(*log, 4);
    }
    EXPECT_EQ(Content(1), old);  // cut, then left as it is
    EXPECT_EQ(Content(4).substr(0, 4), "HWSG");
    auto log = Open(&rec);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(rec.records, 4u);
    EXPECT_EQ(Indexes(ReadAll(*log)), (std::vector<uint64_t>{1, 2, 3, 4}));
  }
}

// A format 1 spool header of zeros was an empty record; now it is where a crash stopped.
TEST_F(SegmentedLogTest, Format1SpoolZeroHeaderEndsTheScan) {
  options_.legacy = LegacyFraming::kSpool;
  fs::create_directories(options_.dir);
  const std::string old = LegacyRecord(Payload(1), 1, false);
  SetContent(1, old + std::string(64, '\0'));
  SegmentedLogRecovery rec;
  auto log = Open(&rec);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(rec.records, 1u);
  EXPECT_EQ(rec.truncated_bytes, 64u);
  EXPECT_EQ(log->next_index(), 2u);
}

TEST_F(SegmentedLogTest, SecondOpenOfTheSameDirectoryFails) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  auto again = SegmentedLog::Open(options_, nullptr);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hw::io
