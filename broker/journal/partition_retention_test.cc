#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "broker/journal/partition.h"
#include "broker/journal/partition_test_util.h"
#include "common/base/mutex.h"

namespace hw::broker {
namespace {

using namespace partition_testing;

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
