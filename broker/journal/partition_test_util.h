// What the Partition tests share (partition_test.cc: appends, segments and reads;
// partition_recovery_test.cc: torn tails, corrupt records and the old format;
// partition_retention_test.cc: retention and readers running beside the writer): record
// payloads a reader can check, byte-level edits of segment files, and a fixture that opens a
// partition in a temp dir.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/journal/partition.h"
#include "common/io/segmented_log.h"
#include "common/testing/temp_dir.h"

namespace hw::broker::partition_testing {

constexpr uint64_t kSegHeader = io::SegmentedLog::kSegmentHeaderBytes;  // at each file's start
constexpr uint64_t kHeaderBytes = io::SegmentedLog::kRecordHeaderBytes;
constexpr size_t kRecordBytes = 100;  // payload size in most tests: 116 bytes on disk per record
constexpr uint64_t kOnDisk = kHeaderBytes + kRecordBytes;

using Records = std::vector<std::pair<uint64_t, std::string>>;

// Deterministic content for an offset, so a reader can check any record it gets.
inline std::string Payload(uint64_t offset, size_t size = kRecordBytes) {
  std::string s = "r" + std::to_string(offset) + ":";
  while (s.size() < size) s.push_back(static_cast<char>('a' + (offset + s.size()) % 26));
  s.resize(size);
  return s;
}

inline std::string SegmentName(uint64_t base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.log", static_cast<unsigned long long>(base));
  return name;
}

inline std::string Header(uint32_t length, uint32_t crc, uint64_t offset) {
  std::string h(kHeaderBytes, '\0');
  for (int i = 0; i < 4; ++i) h[static_cast<size_t>(i)] = static_cast<char>(length >> (8 * i));
  for (int i = 0; i < 4; ++i) h[static_cast<size_t>(4 + i)] = static_cast<char>(crc >> (8 * i));
  for (int i = 0; i < 8; ++i) h[static_cast<size_t>(8 + i)] = static_cast<char>(offset >> (8 * i));
  return h;
}

inline void FlipByte(const std::filesystem::path& file, uint64_t pos) {
  Result<std::string> content = hw::testing::ReadFile(file);
  ASSERT_TRUE(content.ok()) << content.status().ToString();
  ASSERT_LT(pos, content->size());
  (*content)[pos] = static_cast<char>((*content)[pos] ^ 0x40);
  ASSERT_TRUE(hw::testing::WriteFile(file, *content).ok());
}

inline void AppendToFile(const std::filesystem::path& file, std::string_view extra) {
  Result<std::string> content = hw::testing::ReadFile(file);
  ASSERT_TRUE(content.ok()) << content.status().ToString();
  ASSERT_TRUE(hw::testing::WriteFile(file, *content + std::string(extra)).ok());
}

inline void SetMtime(const std::filesystem::path& file, std::chrono::system_clock::time_point t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(ns / 1000000000);
  times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(ns % 1000000000);
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0) << file;
}

inline Records ReadAll(const Partition& p, uint64_t from = 0) {
  Records out;
  Status st = p.Read(from, SIZE_MAX, SIZE_MAX, [&](uint64_t offset, std::string_view bytes) {
    out.emplace_back(offset, std::string(bytes));
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

inline std::vector<uint64_t> Offsets(const Records& records) {
  std::vector<uint64_t> out;
  for (const auto& r : records) out.push_back(r.first);
  return out;
}

// Offsets first..last except those in `missing`.
inline std::vector<uint64_t> Range(uint64_t first, uint64_t last,
                                   std::vector<uint64_t> missing = {}) {
  std::vector<uint64_t> out;
  for (uint64_t o = first; o <= last; ++o) {
    if (std::find(missing.begin(), missing.end(), o) == missing.end()) out.push_back(o);
  }
  return out;
}

inline void ExpectContent(const Records& records) {
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

}  // namespace hw::broker::partition_testing
