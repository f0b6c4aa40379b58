#include "logwatch/state_file.h"

#include <gtest/gtest.h>

namespace hw::logwatch {
namespace {

TEST(StateFileTest, RoundTripsAndChoosesBySpoolIndex) {
  StateFile f;
  f.mark = 41;
  FileState a;
  a.path = "/var/log/a b.log";
  a.dev = 2049;
  a.ino = 77;
  a.fp_len = 1024;
  a.fp_hash = 123456789;
  a.offset = 5000;
  a.pending = {{"trace", 4000}};
  f.before.files = {a};
  f.before.interval_end_ms = 10000;
  f.after = f.before;
  f.after.files[0].offset = 9000;
  f.after.files[0].draining = true;
  f.after.stats.Count("r", "/var/log/a b.log");
  Result<StateFile> back = DecodeState(EncodeState(f));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->mark, 41u);
  EXPECT_TRUE(back->before == f.before);
  EXPECT_TRUE(back->after == f.after);
  // The publish took spool index 41 iff the spool's next index is past it.
  EXPECT_EQ(&ChooseSnapshot(*back, 41), &back->before);
  EXPECT_EQ(&ChooseSnapshot(*back, 42), &back->after);
}

TEST(StateFileTest, CountersRoundTripAndOldFilesHaveNone) {
  StateFile f;
  f.mark = 3;
  f.before.interval_end_ms = 10000;
  f.after = f.before;
  f.after.counters = {{"bytes_read", 1234}, {"lines_read", 12}};
  Result<StateFile> back = DecodeState(EncodeState(f));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->before.counters.empty());
  EXPECT_EQ(back->after.counters, f.after.counters);
  // A file written before counters were saved (no "counters" line) still decodes.
  const std::string old =
      "hostwatch logwatch state v1\nmark 3\n[before]\ninterval_end 10000\nstats 0\n"
      "[after]\ninterval_end 10000\nstats 0\nend\n";
  Result<StateFile> o = DecodeState(old);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->after.counters.empty());
  EXPECT_FALSE(DecodeState("hostwatch logwatch state v1\nmark 3\n[before]\ninterval_end 1\n"
                           "counters bytes_read\nstats 0\n[after]\ninterval_end 1\nstats 0\n"
                           "end\n")
                   .ok());
}

TEST(StateFileTest, TornFileIsDataLoss) {
  StateFile f;
  std::string text = EncodeState(f);
  text.resize(text.size() - 4);
  EXPECT_EQ(DecodeState(text).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace hw::logwatch
