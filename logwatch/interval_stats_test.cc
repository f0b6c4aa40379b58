#include "logwatch/interval_stats.h"

#include <gtest/gtest.h>

#include <map>

namespace hw::logwatch {
namespace {

std::map<std::string, double> ByMetric(const hostwatch::v1::SampleBatch& b) {
  std::map<std::string, double> m;
  for (const auto& s : b.samples()) m[s.metric() + "@" + s.tags().at("path")] = s.value();
  return m;
}

TEST(IntervalStatsTest, CountsValuesAndPercentiles) {
  IntervalStats s;
  s.Track("fivexx", "/a.log");
  s.Track("fivexx", "/b.log");
  s.Count("fivexx", "/a.log");
  s.Count("fivexx", "/a.log");
  for (int i = 1; i <= 1000; ++i) s.Value("slow", "ms", "/a.log", i);
  hostwatch::v1::SampleBatch b;
  s.Drain(1000, 10, &b);
  auto m = ByMetric(b);
  EXPECT_EQ(m["log.fivexx.count@/a.log"], 2);
  EXPECT_EQ(m["log.fivexx.count@/b.log"], 0);  // tracked series report zero, not nothing
  EXPECT_EQ(m["log.slow.ms.count@/a.log"], 1000);
  EXPECT_EQ(m["log.slow.ms.min@/a.log"], 1);
  EXPECT_EQ(m["log.slow.ms.max@/a.log"], 1000);
  EXPECT_DOUBLE_EQ(m["log.slow.ms.avg@/a.log"], 500.5);
  EXPECT_NEAR(m["log.slow.ms.p50@/a.log"], 500, 500 * 0.011);
  EXPECT_NEAR(m["log.slow.ms.p90@/a.log"], 900, 900 * 0.011);
  EXPECT_NEAR(m["log.slow.ms.p99@/a.log"], 990, 990 * 0.011);
  hostwatch::v1::SampleBatch next;
  s.Drain(2000, 10, &next);
  m = ByMetric(next);
  EXPECT_EQ(m["log.fivexx.count@/a.log"], 0);  // a new interval starts at zero
}

TEST(IntervalStatsTest, EncodeDecodeRoundTrips) {
  IntervalStats s;
  s.Count("r", "/path with space/%x.log");
  s.Suppressed("r", "/p");
  s.Value("v", "ms", "/p", -3.5);
  s.Value("v", "ms", "/p", 0);
  s.Value("v", "ms", "/p", 1e9);
  Result<IntervalStats> back = IntervalStats::Decode(s.Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->Encode(), s.Encode());
  EXPECT_FALSE(IntervalStats::Decode("count r\n").ok());
}

}  // namespace
}  // namespace hw::logwatch
