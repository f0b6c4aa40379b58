#include "collector/proc_text.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::collector {
namespace {

using namespace std::chrono_literals;

// A kept-open procfs file is generated afresh by each read from offset 0.
TEST(ProcFileTest, KeptOpenProcfsFileIsFreshOnEveryRead) {
  ProcFile uptime("/proc/uptime", /*keep_open=*/true);
  std::string first, next;
  ASSERT_TRUE(uptime.Read(&first).ok());
  ASSERT_FALSE(first.empty());
  // The uptime moves every 10 ms: a stale read would never differ.
  EXPECT_TRUE(testing::WaitFor([&] { return uptime.Read(&next).ok() && next != first; }, 5s));
}

// Text longer than the first read's buffer comes back whole and equal to open + read + close.
TEST(ProcFileTest, LongFileReadsWhole) {
  ProcFile kept("/proc/filesystems", /*keep_open=*/true);
  std::string buf;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(kept.Read(&buf).ok());
    Result<std::string> fresh = ReadTextFile("/proc/filesystems");
    ASSERT_TRUE(fresh.ok());
    ASSERT_GT(fresh->size(), 256u);
    EXPECT_EQ(buf, *fresh);
  }
}

// A recorded tree is re-pointed between snapshots: without keep_open each read sees the file
// the path names now.
TEST(ProcFileTest, NotKeptOpenFollowsTheFileThePathNames) {
  testing::TempDir dir;
  const std::filesystem::path p = dir.path() / "stat";
  std::ofstream(p) << "one\n";
  ProcFile f(p.string(), /*keep_open=*/false);
  std::string buf;
  ASSERT_TRUE(f.Read(&buf).ok());
  EXPECT_EQ(buf, "one\n");
  const std::filesystem::path tmp = dir.path() / "stat.new";
  std::ofstream(tmp) << "two\n";
  std::filesystem::rename(tmp, p);
  ASSERT_TRUE(f.Read(&buf).ok());
  EXPECT_EQ(buf, "two\n");
}

// The mount table says when it changed: a mount shows as a change, no mount as none.
TEST(ProcFileTest, MountTableReportsChanges) {
  ProcFile mounts("/proc/self/mounts", /*keep_open=*/true);
  std::string before;
  EXPECT_TRUE(mounts.Changed());  // not read yet
  ASSERT_TRUE(mounts.Read(&before).ok());
  EXPECT_FALSE(mounts.Changed());
  testing::TempDir dir;
  if (::mount("hostwatch-test", dir.path().c_str(), "tmpfs", 0, "size=64k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "): needs CAP_SYS_ADMIN";
  }
  EXPECT_TRUE(mounts.Changed());
  std::string after;
  ASSERT_TRUE(mounts.Read(&after).ok());
  EXPECT_NE(after.find(dir.path().string()), std::string::npos);
  EXPECT_FALSE(mounts.Changed());
  ASSERT_EQ(::umount(dir.path().c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(mounts.Changed());
  // A file that is not kept open cannot tell: it always says it changed.
  ProcFile plain("/proc/self/mounts", /*keep_open=*/false);
  ASSERT_TRUE(plain.Read(&after).ok());
  EXPECT_TRUE(plain.Changed());
}

// procfs seq_files return about a page per read however much is asked for: a short read is not
// the end. max_read makes a regular file behave the same way, and every reader must still get the
// whole text (the first version stopped at the first short read and lost the rest of
// /proc/net/tcp on a host with a hundred sockets).
TEST(ProcFileTest, ShortReadsAreNotTheEnd) {
  testing::TempDir dir;
  const std::filesystem::path p = dir.path() / "tcp";
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "  " + std::to_string(i) + ": 0100007F:1F90 01\n";
  std::ofstream(p) << text;
  ASSERT_GT(text.size(), 3 * 4096u);
  for (size_t max_read : {size_t{1}, size_t{301}, size_t{4096}, size_t{0}}) {
    SCOPED_TRACE(max_read);
    std::string buf = "left over from an earlier read";
    ASSERT_TRUE(ReadTextFileInto(p.string(), &buf, max_read).ok());
    EXPECT_EQ(buf, text);
    for (bool keep : {true, false}) {
      ProcFile f(p.string(), keep, max_read);
      for (int round = 0; round < 2; ++round) {  // the second read reuses the buffer and the fd
        ASSERT_TRUE(f.Read(&buf).ok());
        EXPECT_EQ(buf, text);
      }
    }
  }
}

// A live procfs file of many pages (a seq_file gives one page per read) reads whole.
TEST(ProcFileTest, LiveSeqFileLongerThanAPageReadsWhole) {
  ProcFile kept("/proc/self/smaps", /*keep_open=*/true);
  std::string buf;
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(kept.Read(&buf).ok());
    ASSERT_GT(buf.size(), 3 * 4096u) << "smaps of a test binary is several pages";
    // The stack is among the last mappings: only a read to the end sees it.
    EXPECT_NE(buf.find("[stack]"), std::string::npos);
  }
}

TEST(ProcFileTest, MissingFileNamesThePath) {
  for (bool keep : {true, false}) {
    ProcFile f("/proc/hostwatch-no-such-file", keep);
    std::string buf;
    Status s = f.Read(&buf);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.ToString().find("/proc/hostwatch-no-such-file"), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace hw::collector
