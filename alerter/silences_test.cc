#include "alerter/silences.h"

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace hw::alerter {
namespace {

TEST(SilencesTest, MatchersAreGlobsOverLabels) {
  Silence s;
  s.match = {{"rule", "cpu_*"}, {"endpoint", "web-0?"}};
  EXPECT_TRUE(s.Matches({{"rule", "cpu_high"}, {"endpoint", "web-01"}}));
  EXPECT_FALSE(s.Matches({{"rule", "cpu_high"}, {"endpoint", "db-01"}}));
  EXPECT_FALSE(s.Matches({{"rule", "cpu_high"}}));
  Silence empty;
  EXPECT_FALSE(empty.Matches({{"rule", "x"}})) << "no matcher matches nothing";
  s.starts_ms = 10;
  s.ends_ms = 20;
  EXPECT_FALSE(s.Active(9));
  EXPECT_TRUE(s.Active(10));
  EXPECT_FALSE(s.Active(20));
}

TEST(SilencesTest, SavedFileLoadsBackAndTheWatcherSeesChanges) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "silences.yaml").string();
  SilenceWatcher watcher(path);
  watcher.Poll();
  EXPECT_TRUE(watcher.silences().empty()) << "a missing file is no silences";

  Silence s;
  s.id = NewSilenceId();
  s.match = {{"endpoint", "web-*"}, {"mount", "/"}};
  s.starts_ms = 1000;
  s.ends_ms = 5000;
  s.comment = "disk swap: \"quoted\"\nsecond line";
  s.created_by = "alice";
  ASSERT_TRUE(SaveSilences(path, {s}, 2000).ok());
  watcher.Poll();
  ASSERT_EQ(watcher.silences().size(), 1u);
  const Silence& got = watcher.silences()[0];
  EXPECT_EQ(got.id, s.id);
  EXPECT_EQ(got.match, s.match);
  EXPECT_EQ(got.ends_ms, 5000);
  EXPECT_EQ(got.comment, s.comment);

  s.ends_ms = 2500;  // expired
  ASSERT_TRUE(SaveSilences(path, {s}, 3000).ok());
  watcher.Poll();
  ASSERT_EQ(watcher.silences().size(), 1u);
  EXPECT_EQ(watcher.silences()[0].ends_ms, 2500);
  EXPECT_EQ(watcher.reloads(), 3u);

  ASSERT_TRUE(testing::WriteFile(path, "silences: [{id: x, bogus: 1}]\n").ok());
  watcher.Poll();
  EXPECT_EQ(watcher.silences().size(), 1u) << "a bad file keeps the previous silences";
}

}  // namespace
}  // namespace hw::alerter
