#include "common/spool/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/testing/temp_dir.h"

namespace hw::spool {
namespace {

namespace fs = std::filesystem;
using namespace std::literals;
using Records = std::vector<std::pair<uint64_t, std::string>>;

constexpr uint64_t kSegHeader = io::SegmentedLog::kSegmentHeaderBytes;  // at each file's start
constexpr uint64_t kHeader = io::SegmentedLog::kRecordHeaderBytes;      // before each record

class SpoolTest : public ::testing::Test {
 protected:
  SpoolOptions Options() const {
    SpoolOptions o;
    o.dir = tmp_.path() / "spool";
    return o;
  }

  static std::unique_ptr<Spool> MustOpen(const SpoolOptions& o) {
    auto s = Spool::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  static Records ReadAll(Spool& s, uint64_t from = 0, size_t max = SIZE_MAX) {
    Records out;
    Status st = s.Read(from, max, [&](uint64_t i, std::string_view b) {
      out.emplace_back(i, std::string(b));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  static std::string Payload(uint64_t i, size_t size = 100) {
    std::string p = "record-" + std::to_string(i) + "-";
    p.resize(size, static_cast<char>('a' + i % 26));
    return p;
  }

  // Appends payloads of `size` bytes with indexes first..last (checking the indexes).
  static void AppendRange(Spool& s, uint64_t first, uint64_t last, size_t size = 100) {
    for (uint64_t i = first; i <= last; ++i) {
      auto idx = s.Append(Payload(i, size));
      ASSERT_TRUE(idx.ok()) << idx.status().ToString();
      ASSERT_EQ(*idx, i);
    }
  }

  std::vector<fs::path> SegmentFiles() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(Options().dir)) {
      if (e.path().extension() == ".seg") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::vector<uint64_t> Indexes(const Records& r) {
    std::vector<uint64_t> out;
    for (const auto& [i, b] : r) out.push_back(i);
    return out;
  }

  static std::vector<uint64_t> Iota(uint64_t first, uint64_t last) {
    std::vector<uint64_t> out;
    for (uint64_t i = first; i <= last; ++i) out.push_back(i);
    return out;
  }

  static void Overwrite(const fs::path& file, uint64_t offset, std::string_view bytes) {
    auto content = hw::testing::ReadFile(file);
    ASSERT_TRUE(content.ok());
    ASSERT_LE(offset + bytes.size(), content->size());
    content->replace(offset, bytes.size(), bytes);
    ASSERT_TRUE(hw::testing::WriteFile(file, *content).ok());
  }

  hw::testing::TempDir tmp_;
};

TEST_F(SpoolTest, AppendsAndReadsInOrder) {
  auto s = MustOpen(Options());
  EXPECT_EQ(s->first_index(), 1u);
  EXPECT_EQ(s->next_index(), 1u);
  AppendRange(*s, 1, 10);
  EXPECT_EQ(s->first_index(), 1u);
  EXPECT_EQ(s->next_index(), 11u);

  Records all = ReadAll(*s);
  ASSERT_EQ(all.size(), 10u);
  for (uint64_t i = 1; i <= 10; ++i) {
    EXPECT_EQ(all[i - 1].first, i);
    EXPECT_EQ(all[i - 1].second, Payload(i));
  }
  EXPECT_EQ(Indexes(ReadAll(*s, 5, 3)), Iota(5, 7));
  EXPECT_TRUE(ReadAll(*s, 11).empty());
  EXPECT_EQ(s->stats().records, 10u);
  EXPECT_EQ(s->stats().bytes, kSegHeader + 10 * (kHeader + 100));
}

TEST_F(SpoolTest, IndexesSurviveReopen) {
  SpoolOptions o = Options();
  o.segment_bytes = 3 * (kHeader + 100);  // three records per segment
  {
    auto s = MustOpen(o);
    AppendRange(*s, 1, 10);
    ASSERT_TRUE(s->Sync().ok());
  }
  EXPECT_EQ(SegmentFiles().size(), 4u);
  EXPECT_EQ(SegmentFiles()[1].filename(), "00000000000000000004.seg");

  auto s = MustOpen(o);
  EXPECT_EQ(s->first_index(), 1u);
  EXPECT_EQ(s->next_index(), 11u);
  Records all = ReadAll(*s);
  ASSERT_EQ(Indexes(all), Iota(1, 10));
  EXPECT_EQ(all[6].second, Payload(7));
  EXPECT_EQ(s->stats().records, 10u);
  EXPECT_EQ(s->stats().truncated_bytes, 0u);
  EXPECT_EQ(s->stats().corrupt_records, 0u);
  AppendRange(*s, 11, 12);
  EXPECT_EQ(Indexes(ReadAll(*s, 9)), Iota(9, 12));
}

// The two-step sync: the batch covers every segment written since the last sync (sealed ones
// too), the released watermark and the directory; the next batch is empty until more is written;
// MarkUnsynced makes everything due again; and the batch still runs after the spool rolled on.
TEST_F(SpoolTest, SyncBatchCoversWhatSyncWouldAndRunsWithoutTheSpool) {
  SpoolOptions o = Options();
  o.segment_bytes = 3 * (kHeader + 100);
  auto s = MustOpen(o);
  AppendRange(*s, 1, 7);  // three segments, two of them sealed
  ASSERT_TRUE(s->Release(3).ok());
  Result<Spool::SyncBatch> first = s->TakeSyncBatch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->empty());
  AppendRange(*s, 8, 12);  // rolls to new segments while the batch is pending
  EXPECT_TRUE(first->Run().ok());

  Result<Spool::SyncBatch> second = s->TakeSyncBatch();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->empty());  // the appends after the first batch
  EXPECT_TRUE(second->Run().ok());
  Result<Spool::SyncBatch> third = s->TakeSyncBatch();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->empty());  // nothing written since

  s->MarkUnsynced();
  Result<Spool::SyncBatch> again = s->TakeSyncBatch();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->empty());
  EXPECT_TRUE(again->Run().ok());
  EXPECT_EQ(Indexes(ReadAll(*s)), Iota(4, 12));
}

TEST_F(SpoolTest, ReleaseDeletesWholeSegmentsAndSurvivesReopen) {
  SpoolOptions o = Options();
  o.segment_bytes = 4 * (kHeader + 100);  // [1..4] [5..8] [9..12] ...
  {
    auto s = MustOpen(o);
    AppendRange(*s, 1, 20);
    ASSERT_EQ(SegmentFiles().size(), 5u);

    ASSERT_TRUE(s->Release(10).ok());
    // [1..4] and [5..8] are gone; [9..12] stays on disk but 9 and 10 are never read again.
    EXPECT_EQ(SegmentFiles().size(), 3u);
    EXPECT_EQ(SegmentFiles().front().filename(), "00000000000000000009.seg");
    EXPECT_EQ(s->first_index(), 11u);
    EXPECT_EQ(Indexes(ReadAll(*s, 1)), Iota(11, 20));
    EXPECT_EQ(s->stats().records, 10u);
    EXPECT_EQ(s->stats().bytes, 3 * kSegHeader + 12 * (kHeader + 100));
    ASSERT_TRUE(s->Release(3).ok());  // going back is a no-op
    EXPECT_EQ(s->first_index(), 11u);
  }
  {
    auto s = MustOpen(o);
    EXPECT_EQ(s->first_index(), 11u);
    EXPECT_EQ(s->next_index(), 21u);
    EXPECT_EQ(Indexes(ReadAll(*s)), Iota(11, 20));
    EXPECT_EQ(s->stats().records, 10u);
    ASSERT_TRUE(s->Release(20).ok());
    EXPECT_EQ(s->first_index(), 21u);
    EXPECT_TRUE(ReadAll(*s).empty());
    EXPECT_EQ(s->stats().records, 0u);
  }
  // Everything was released: the indexes must still continue, not restart at 1.
  auto s = MustOpen(o);
  EXPECT_EQ(s->first_index(), 21u);
  EXPECT_EQ(s->next_index(), 21u);
  AppendRange(*s, 21, 21);
  EXPECT_EQ(Indexes(ReadAll(*s)), Iota(21, 21));
}

TEST_F(SpoolTest, ReleaseBeyondNextIndexReleasesOnlyWhatExists) {
  auto s = MustOpen(Options());
  AppendRange(*s, 1, 5);
  ASSERT_TRUE(s->Release(1000).ok());
  EXPECT_EQ(s->first_index(), 6u);
  AppendRange(*s, 6, 7);  // a later append is not hidden by the too-large watermark
  EXPECT_EQ(Indexes(ReadAll(*s)), Iota(6, 7));
}

TEST_F(SpoolTest, RecoversAfterTornTail) {
  {
    auto s = MustOpen(Options());
    AppendRange(*s, 1, 10);
  }
  ASSERT_EQ(SegmentFiles().size(), 1u);
  const fs::path seg = SegmentFiles()[0];
  // The crash hit the write of record 10: only 60 of its 116 bytes reached the file.
  ASSERT_EQ(::truncate(seg.c_str(), kSegHeader + 9 * (kHeader + 100) + 60), 0);
  {
    auto s = MustOpen(Options());
    EXPECT_EQ(s->stats().truncated_bytes, 60u);
    EXPECT_EQ(s->stats().corrupt_records, 0u);
    EXPECT_EQ(Indexes(ReadAll(*s)), Iota(1, 9));
    EXPECT_EQ(s->next_index(), 10u);
    EXPECT_EQ(fs::file_size(seg), kSegHeader + 9 * (kHeader + 100));
    AppendRange(*s, 10, 11);
    Records all = ReadAll(*s);
    ASSERT_EQ(Indexes(all), Iota(1, 11));
    EXPECT_EQ(all.back().second, Payload(11));
  }
  // Garbage shorter than a header at the end, e.g. a half-written header.
  {
    auto content = hw::testing::ReadFile(seg);
    ASSERT_TRUE(content.ok());
    ASSERT_TRUE(hw::testing::WriteFile(seg, *content + "\x07\x00\x00"s).ok());
  }
  auto s = MustOpen(Options());
  EXPECT_EQ(s->stats().truncated_bytes, 3u);
  EXPECT_EQ(Indexes(ReadAll(*s)), Iota(1, 11));
  AppendRange(*s, 12, 12);
  EXPECT_EQ(Indexes(ReadAll(*s, 11)), Iota(11, 12));
}

TEST_F(SpoolTest, SkipsCorruptRecord) {
  {
    auto s = MustOpen(Options());
    AppendRange(*s, 1, 5);
  }
  // One flipped payload byte in record 3.
  Overwrite(SegmentFiles()[0], kSegHeader + 2 * (kHeader + 100) + kHeader + 50, "#");
  auto s = MustOpen(Options());
  EXPECT_EQ(s->stats().corrupt_records, 1u);
  EXPECT_EQ(s->stats().truncated_bytes, 0u);
  EXPECT_EQ(s->stats().records, 4u);
  Records all = ReadAll(*s);
  ASSERT_EQ(Indexes(all), (std::vector<uint64_t>{1, 2, 4, 5}));
  EXPECT_EQ(all[2].second, Payload(4));
  EXPECT_EQ(s->next_index(), 6u);  // the corrupt record's index stays consumed
  AppendRange(*s, 6, 6);
}

TEST_F(SpoolTest, SkipsRecordThatGoesBadAfterOpen) {
  auto s = MustOpen(Options());
  AppendRange(*s, 1, 5);
  Overwrite(SegmentFiles()[0], kSegHeader + 3 * (kHeader + 100) + kHeader + 10, "#");  // record 4
  EXPECT_EQ(Indexes(ReadAll(*s)), (std::vector<uint64_t>{1, 2, 3, 5}));
  EXPECT_EQ(s->stats().corrupt_records, 1u);
  EXPECT_EQ(s->stats().records, 4u);
}

// A header whose length cannot be right: recovery resynchronises on the next record whose index
// and CRC prove it (io::SegmentedLog's rule 3), so only the damaged record's index is lost.
TEST_F(SpoolTest, GarbageLengthLosesOnlyThatRecord) {
  SpoolOptions o = Options();
  o.segment_bytes = 3 * (kHeader + 100);  // [1..3] [4..6] [7..9]
  o.max_record_bytes = 1000;
  {
    auto s = MustOpen(o);
    AppendRange(*s, 1, 9);
  }
  ASSERT_EQ(SegmentFiles().size(), 3u);
  // Sealed segment: record 2's length can't be right.
  Overwrite(SegmentFiles()[0], kSegHeader + 1 * (kHeader + 100), "\xff\xff\xff\xff"sv);
  // Last segment: record 8 claims 2000 bytes (> max_record_bytes); record 9 after it is intact,
  // so nothing is cut.
  Overwrite(SegmentFiles()[2], kSegHeader + 1 * (kHeader + 100), "\xd0\x07\x00\x00"sv);
  auto s = MustOpen(o);
  EXPECT_EQ(s->stats().corrupt_records, 2u);
  EXPECT_EQ(s->stats().truncated_bytes, 0u);
  Records all = ReadAll(*s);
  EXPECT_EQ(Indexes(all), (std::vector<uint64_t>{1, 3, 4, 5, 6, 7, 9}));
  EXPECT_EQ(all[1].second, Payload(3));
  EXPECT_EQ(s->next_index(), 10u);
  AppendRange(*s, 10, 10);
  EXPECT_EQ(Indexes(ReadAll(*s, 6)), (std::vector<uint64_t>{6, 7, 9, 10}));
}

TEST_F(SpoolTest, DropsOldestWhenFull) {
  SpoolOptions o = Options();
  o.max_bytes = 4096;
  o.segment_bytes = 1024;  // 8 records of 116 bytes
  auto s = MustOpen(o);
  constexpr uint64_t kCount = 200;
  for (uint64_t i = 1; i <= kCount; ++i) {
    auto idx = s->Append(Payload(i));
    ASSERT_TRUE(idx.ok()) << idx.status().ToString();
    ASSERT_EQ(*idx, i);
    ASSERT_LE(s->stats().bytes, o.max_bytes);
  }
  SpoolStats st = s->stats();
  EXPECT_GT(st.dropped_records, 0u);
  EXPECT_EQ(st.dropped_records + st.records, kCount);
  EXPECT_EQ(st.dropped_bytes, st.dropped_records * (kHeader + 100));
  EXPECT_EQ(s->first_index(), st.dropped_records + 1);  // whole oldest segments went first
  Records all = ReadAll(*s);
  EXPECT_EQ(Indexes(all), Iota(st.dropped_records + 1, kCount));
  EXPECT_EQ(all.back().second, Payload(kCount));
}

TEST_F(SpoolTest, DropCountsOnlyRecordsNotYetReleased) {
  SpoolOptions o = Options();
  o.segment_bytes = 9 * (kHeader + 100);
  o.max_bytes = 5 * kSegHeader + 37 * (kHeader + 100) + 100;  // room for 37 records, not 38
  auto s = MustOpen(o);
  AppendRange(*s, 1, 37);  // [1..9] [10..18] [19..27] [28..36] [37]
  ASSERT_TRUE(s->Release(5).ok());
  AppendRange(*s, 38, 38);  // needs room: drops [1..9], of which 6..9 were not released
  EXPECT_EQ(s->stats().dropped_records, 4u);
  EXPECT_EQ(s->first_index(), 10u);
}

TEST_F(SpoolTest, DropsTheActiveSegmentWhenItIsTheOnlyOne) {
  SpoolOptions o = Options();
  o.max_bytes = kSegHeader + 9 * (kHeader + 100) + 50;  // room for 9 records, not 10
  o.segment_bytes = 1 << 20;                            // never rolls by size
  auto s = MustOpen(o);
  AppendRange(*s, 1, 9);
  AppendRange(*s, 10, 10);
  EXPECT_EQ(s->stats().dropped_records, 9u);
  EXPECT_LE(s->stats().bytes, o.max_bytes);
  EXPECT_EQ(Indexes(ReadAll(*s)), Iota(10, 10));
}

TEST_F(SpoolTest, RejectsRecordLargerThanSpool) {
  SpoolOptions o = Options();
  o.max_bytes = 1000;
  o.max_record_bytes = 2000;
  auto s = MustOpen(o);
  auto too_big = s->Append(std::string(1000 - kSegHeader - kHeader + 1, 'x'));
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->next_index(), 1u);

  auto fits = s->Append(std::string(1000 - kSegHeader - kHeader, 'x'));
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(*fits, 1u);

  o.max_bytes = 1 << 20;
  o.max_record_bytes = 100;
  s.reset();
  s = MustOpen(o);
  auto past_record_limit = s->Append(std::string(101, 'x'));
  ASSERT_FALSE(past_record_limit.ok());
  EXPECT_EQ(past_record_limit.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SpoolTest, MetaIsAtomicAndPersists) {
  const std::string meta("epoch=7\0offsets=1,2", 19);
  {
    auto s = MustOpen(Options());
    auto empty = s->ReadMeta();
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(*empty, "");
    ASSERT_TRUE(s->WriteMeta("a much longer first version of the metadata").ok());
    ASSERT_TRUE(s->WriteMeta(meta).ok());
    EXPECT_FALSE(fs::exists(Options().dir / "meta.tmp"));
  }
  // A crash in the middle of the next WriteMeta leaves a partial meta.tmp: meta is untouched.
  ASSERT_TRUE(hw::testing::WriteFile(Options().dir / "meta.tmp", "epoch=8\0off"sv).ok());
  auto s = MustOpen(Options());
  auto read = s->ReadMeta();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, meta);
  EXPECT_FALSE(fs::exists(Options().dir / "meta.tmp"));
  EXPECT_EQ(s->stats().bytes, kSegHeader);  // meta is not a record: only the empty segment
}

TEST_F(SpoolTest, ReadStopsWhenCallbackReturnsFalse) {
  auto s = MustOpen(Options());
  AppendRange(*s, 1, 10);
  std::vector<uint64_t> seen;
  ASSERT_TRUE(s->Read(2, 100, [&](uint64_t i, std::string_view) {
                 seen.push_back(i);
                 return seen.size() < 3;
               }).ok());
  EXPECT_EQ(seen, Iota(2, 4));
  EXPECT_EQ(Indexes(ReadAll(*s, 1, 4)), Iota(1, 4));  // and max_records is a limit too
  EXPECT_TRUE(ReadAll(*s, 1, 0).empty());
}

TEST_F(SpoolTest, EmptyRecordsAreFine) {
  {
    auto s = MustOpen(Options());
    for (std::string_view r : {"", "x", ""}) ASSERT_TRUE(s->Append(r).ok());
  }
  auto s = MustOpen(Options());
  EXPECT_EQ(s->stats().truncated_bytes, 0u);
  EXPECT_EQ(s->stats().bytes, kSegHeader + 3 * kHeader + 1);
  Records all = ReadAll(*s);
  ASSERT_EQ(all, (Records{{1, ""}, {2, "x"}, {3, ""}}));
}

TEST_F(SpoolTest, SecondOpenOfTheSameDirectoryFails) {
  auto s = MustOpen(Options());
  auto again = Spool::Open(Options());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  s.reset();
  EXPECT_TRUE(Spool::Open(Options()).ok());
}

TEST_F(SpoolTest, SyncAndFsyncEachAppendKeepRecords) {
  SpoolOptions o = Options();
  o.segment_bytes = 3 * (kHeader + 100);
  o.fsync_each_append = true;
  {
    auto s = MustOpen(o);
    AppendRange(*s, 1, 7);
    ASSERT_TRUE(s->Release(2).ok());
    ASSERT_TRUE(s->Sync().ok());
  }
  auto s = MustOpen(o);
  EXPECT_EQ(Indexes(ReadAll(*s)), Iota(3, 7));
}

TEST_F(SpoolTest, ManySegmentsReopenFast) {
  SpoolOptions o = Options();
  o.segment_bytes = 16 << 10;
  constexpr uint64_t kCount = 100'000;
  {
    auto s = MustOpen(o);
    for (uint64_t i = 1; i <= kCount; ++i) {
      auto idx = s->Append(Payload(i, 16));
      ASSERT_TRUE(idx.ok()) << idx.status().ToString();
    }
  }
  EXPECT_GT(SegmentFiles().size(), 100u);
  const auto start = std::chrono::steady_clock::now();
  auto s = MustOpen(o);
  const double open_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ info     ] reopened %llu records in %zu segments in %.3f s\n",
              static_cast<unsigned long long>(kCount), SegmentFiles().size(), open_s);
  EXPECT_LT(open_s, 10.0);  // generous: sanitizers, a busy CI machine
  EXPECT_EQ(s->stats().records, kCount);
  EXPECT_EQ(s->next_index(), kCount + 1);

  // Read it all in producer-sized batches.
  uint64_t next = 1;
  uint64_t count = 0;
  bool in_order = true;
  while (next <= kCount) {
    uint64_t before = count;
    ASSERT_TRUE(s->Read(next, 256, [&](uint64_t i, std::string_view b) {
                   in_order = in_order && i == next && b == Payload(i, 16);
                   ++next;
                   ++count;
                   return true;
                 }).ok());
    ASSERT_GT(count, before);
  }
  EXPECT_TRUE(in_order);
  EXPECT_EQ(count, kCount);
}

// Not a pass/fail check: prints the append rate the producer can expect for 1 KiB envelopes.
TEST_F(SpoolTest, AppendThroughputOneKiB) {
  auto s = MustOpen(Options());
  constexpr uint64_t kCount = 100'000;
  const std::string record(1024, 'e');
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 1; i <= kCount; ++i) {
    auto idx = s->Append(record);
    ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  }
  const double append_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(s->Sync().ok());
  const double sync_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "[ info     ] append 1 KiB: %.0f records/s (%.0f MiB/s); with the final Sync: %.0f "
      "records/s\n",
      kCount / append_s, kCount * 1032.0 / append_s / (1 << 20), kCount / sync_s);
  EXPECT_EQ(s->stats().records, kCount);
}

}  // namespace
}  // namespace hw::spool

namespace hw::spool {
namespace {

// A spool written by the format 1 code (testdata/old_format: records 1..5 of 24 bytes in segments
// [1..3] [4..5], released up to 1) still recovers: its records read back, a torn tail on its last
// segment is cut, and appends go to a new format 2 segment.
TEST(SpoolFormatTest, RecoversAFormat1Spool) {
  hw::testing::TempDir tmp;
  const fs::path dir = tmp.path() / "spool";
  fs::copy(fs::path(HW_SOURCE_DIR) / "common/spool/testdata/old_format", dir);
  const fs::path last = dir / "00000000000000000004.seg";
  {
    auto content = hw::testing::ReadFile(last);
    ASSERT_TRUE(content.ok());
    ASSERT_TRUE(hw::testing::WriteFile(last, *content + "\x18\x00\x00\x00\x01"s).ok());
  }
  auto expected = [](uint64_t i) {
    std::string p = "old-spool-record-" + std::to_string(i);
    p.resize(24, '.');
    return p;
  };
  SpoolOptions o;
  o.dir = dir;
  for (int round = 0; round < 2; ++round) {
    auto s = Spool::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    SpoolStats st = (*s)->stats();
    EXPECT_EQ(st.truncated_bytes, round == 0 ? 5u : 0u);
    EXPECT_EQ(st.corrupt_records, 0u);
    EXPECT_EQ((*s)->first_index(), 2u);  // 1 was released
    if (round == 0) {
      auto idx = (*s)->Append("new");
      ASSERT_TRUE(idx.ok()) << idx.status().ToString();
      EXPECT_EQ(*idx, 6u);
      EXPECT_TRUE(fs::exists(dir / "00000000000000000006.seg"));
      EXPECT_EQ(fs::file_size(last), 2 * (8 + 24u));  // format 1, cut and left as it is
    }
    std::vector<std::pair<uint64_t, std::string>> all;
    ASSERT_TRUE((*s)->Read(0, SIZE_MAX,
                           [&](uint64_t i, std::string_view b) {
                             all.emplace_back(i, std::string(b));
                             return true;
                           })
                    .ok());
    ASSERT_EQ(all.size(), 5u);
    for (uint64_t i = 2; i <= 5; ++i) EXPECT_EQ(all[i - 2], std::make_pair(i, expected(i)));
    EXPECT_EQ(all[4], std::make_pair(uint64_t{6}, "new"s));
  }
}

}  // namespace
}  // namespace hw::spool
