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
  void Pass(Tailer& t) {
    t.Discover(false);
    while (t.ReadAll(1 << 20)) {
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
  t->ReadAll(1 << 20);
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
  t->ReadAll(1 << 20);
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
  t->ReadAll(1 << 20);
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
  t->ReadAll(1 << 20);
  Append(p, "3\n4\n");
  fs::copy_file(p, dir_.path() / "a.log.1");
  fs::resize_file(p, 0);
  Append(p, "5\n");
  Pass(*t);
  EXPECT_THAT(lines_.got, ElementsAre("1", "2", "3", "4", "5"));
  EXPECT_EQ(t->stats().truncations, 1u);
}

TEST_F(TailerTest, TruncateAndRegrowPastTheOffsetIsSeenByTheFingerprint) {
  const fs::path p = dir_.path() / "a.log";
  Append(p, "aaaa\n");
  auto t = Make(p.string());
  t->Discover(true);
  t->ReadAll(1 << 20);
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
    t->ReadAll(1 << 20);
    saved = t->Snapshot([](size_t) { return std::string(); });
  }
  Append(p, "3\n");
  fs::rename(p, dir_.path() / "a.log.1");
  Append(p, "4\n");
  lines_.got.clear();
  auto t = Make(p.string());
  t->Restore(saved, [](std::string_view) { return size_t{0}; });
  t->Discover(true);
  while (t->ReadAll(1 << 20)) {
  }
  EXPECT_THAT(lines_.got, ElementsAre("3", "4"));
}

}  // namespace
}  // namespace hw::logwatch
