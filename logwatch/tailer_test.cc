#include "logwatch/tailer.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/testing/temp_dir.h"

namespace hw::logwatch {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

struct Lines : LineHandler {
  std::vector<std::string> got;
  std::vector<bool> truncated;
  void OnLine(TailedFile&, std::string_view line, uint64_t, bool t) override {
    got.emplace_back(line);
    truncated.push_back(t);
  }
  void OnOpen(TailedFile&) override {}
  void OnClose(TailedFile&) override {}
  void OnTruncated(TailedFile&) override {}
};

void Append(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::app | std::ios::binary) << s;
}

class TailerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Tailer> Make(const std::string& pattern, bool from_beginning = true) {
    auto t = std::make_unique<Tailer>(std::vector<WatchSpec>{{pattern, {"r"}, from_beginning}}, 256,
                                      std::chrono::milliseconds(0), &lines_);
    t->Init();
    return t;
  }
  // True when a file has more; a read error fails the test.
  static bool ReadAll(Tailer& t) {
    Result<bool> more = t.ReadAll(1 << 20);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    return more.ok() && *more;
  }
  void Pass(Tailer& t) {
    t.Discover(false);
    while (ReadAll(t)) {
    }
  }
  testing::TempDir dir_;
  Lines lines_;
};

TEST_F(TailerTest, FromEndSkipsOldContentAndPartialLinesWait) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "old1\nold2\n");
  auto t = Make(p.string(), /*from_beginning=*/false);
  t->Discover(true);
  ReadAll(*t);
  Append(p, "new1\npart");
  Pass(*t);
  Append(p, "ial\n");
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("new1", "partial"));
}

TEST_F(TailerTest, RenameAndCreateFinishesTheOldFileFirst) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "1\n");
  auto t = Make(p.string());
  t->Discover(true);
  ReadAll(*t);
  Append(p, "2\n");
  fs::rename(p, dir_.path() / "a.log.1");
  Append(dir_.path() / "a.log.1", "3\n");  // the writer has not reopened yet
  Append(p, "4\n");
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("1", "2", "3", "4"));
  t->CloseQuiet();  // rotate_wait 0: the drained file is closed
  EXPECT_EQ(t->files().size(), 1u);
}

TEST_F(TailerTest, DeleteAndRecreate) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "1\n");
  auto t = Make(p.string());
  t->Discover(true);
  ReadAll(*t);
  {
    // The writer still holds the old file when it is deleted.
    std::ofstream old(p, std::ios::app);
    fs::remove(p);
    old << "2\n";
  }
  Append(p, "3\n");
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("1", "2", "3"));
}

TEST_F(TailerTest, CopytruncateTakesTheUnreadTailFromTheCopy) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "1\n2\n");
  auto t = Make(p.string());
  t->Discover(true);
  ReadAll(*t);
  Append(p, "3\n4\n");
  fs::copy_file(p, dir_.path() / "a.log.1");
  fs::resize_file(p, 0);
  Append(p, "5\n");
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("1", "2", "3", "4", "5"));
  EXPECT_EQ(t->stats().truncations, 1u);
}

// A writer without O_APPEND goes on at its old offset after the truncate: the hole it leaves is as
// long as the old file, so the bytes between our last read and the truncate can be counted.
TEST_F(TailerTest, CopytruncateCountsWhatAWriterWithoutAppendLost) {
  for (const size_t width : {8u, 200u}) {  // a hole inside the first block, and one past it
    SCOPED_TRACE(width);
    const fs::path p = dir_.path() / ("w" + std::to_string(width) + ".log");
    lines_ = Lines();
    auto line = [width](int i) {
      std::string s = "line-" + std::to_string(100 + i);
      s.resize(width - 1, '.');
      return s;
    };
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);  // no O_APPEND
    ASSERT_GE(fd, 0);
    auto write_line = [&](int i) {
      const std::string s = line(i) + "\n";
      ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
    };
    for (int i = 0; i < 10; ++i) write_line(i);
    auto t = Make(p.string());
    t->Discover(true);
    ReadAll(*t);
    fs::copy_file(p, dir_.path() / (p.filename().string() + ".1"));  // logrotate's copy
    for (int i = 10; i < 60; ++i) write_line(i);  // between the copy and the truncate
    fs::resize_file(p, 0);
    write_line(60);  // at the old offset, after a hole
    Pass(*t);
    ASSERT_EQ(lines_.got.size(), 11u);
    EXPECT_EQ(lines_.got[9], line(9));
    EXPECT_EQ(lines_.got[10], line(60));  // whole: not swallowed by the hole before it
    EXPECT_FALSE(lines_.truncated[10]);
    EXPECT_EQ(t->stats().lost_bytes, 50u * width);
    EXPECT_EQ(t->stats().lost_lines, 50u);
    ::close(fd);
    t.reset();
  }
}

TEST_F(TailerTest, TruncateAndRegrowPastTheOffsetIsSeenByTheFingerprint) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "aaaa\n");
  auto t = Make(p.string());
  t->Discover(true);
  ReadAll(*t);
  fs::resize_file(p, 0);
  Append(p, "bbbbbbbbbb\n");  // longer than before: the size alone does not show the truncate
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("aaaa", "bbbbbbbbbb"));
}

TEST_F(TailerTest, OverlongLinesAreCutAndTheNextLineFollows) {
  const fs::path p = dir_.path() / "a.log";
  auto t = Make(p.string());
  Append(p, "");
  t->Discover(true);
  Append(p, std::string(3000, 'x'));
  Pass(*t);
  Append(p, std::string(3000, 'y') + "\n" + std::string("\0\0ok\n", 5));
  Pass(*t);
  ASSERT_EQ(lines_.got.size(), 2u);
  EXPECT_EQ(lines_.got[0], std::string(256, 'x'));
  EXPECT_TRUE(lines_.truncated[0]);
  EXPECT_EQ(lines_.got[1], "ok");  // leading NULs (a sparse copytruncate prefix) dropped
  EXPECT_FALSE(lines_.truncated[1]);
}

TEST_F(TailerTest, GlobPicksUpNewFiles) {
  auto t = Make((dir_.path() / "*.log").string());
  t->Discover(true);
  Append(dir_.path() / "b.log", "b1\n");
  Append(dir_.path() / "b.txt", "no\n");
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("b1"));
}

TEST_F(TailerTest, RestoreFindsARotatedFileByInode) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "1\n2\n");
  std::vector<FileState> saved;
  {
    auto t = Make(p.string());
    t->Discover(true);
    ReadAll(*t);
    saved = t->Snapshot();
  }
  Append(p, "3\n");
  fs::rename(p, dir_.path() / "a.log.1");
  Append(p, "4\n");
  lines_.got.clear();
  auto t = Make(p.string());
  int restored = 0;
  t->Restore(saved, [&](TailedFile&, const FileState&) { ++restored; });
  EXPECT_EQ(restored, 1);
  t->Discover(true);
  while (ReadAll(*t)) {
  }
  EXPECT_THAT(lines_.got, ElementsAre("3", "4"));
}

// A read that fails is an error, not "nothing new": the offset stays at the last whole line read,
// and once the file can be read again the lines arrive, none lost and none twice.
TEST_F(TailerTest, ReadErrorIsAnErrorAndTheOffsetStays) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "1\n");
  auto t = Make(p.string());
  t->Discover(true);
  ASSERT_FALSE(ReadAll(*t));
  TailedFile& f = *t->files().at(0);
  const uint64_t offset = f.state.offset;
  // The followed descriptor becomes a write-only one on the same file: fstat works, pread fails.
  const int saved = ::dup(f.fd.get());
  const int wr = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(wr, 0);
  ASSERT_GE(::dup2(wr, f.fd.get()), 0);
  ::close(wr);
  Append(p, "2\n3\n");
  Result<bool> r = t->ReadFile(f, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr(p.string() + ": read"));
  EXPECT_EQ(f.state.offset, offset);
  EXPECT_FALSE(t->ReadAll(1 << 20).ok());
  ASSERT_GE(::dup2(saved, f.fd.get()), 0);
  ::close(saved);
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("1", "2", "3"));
  EXPECT_EQ(t->stats().truncations, 0u);
}

}  // namespace
}  // namespace hw::logwatch
