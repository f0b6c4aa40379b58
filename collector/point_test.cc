#include "collector/point.h"

#include <gtest/gtest.h>

namespace hw::collector {
namespace {

TEST(PointTest, FormatIsSortedAndStable) {
  std::vector<Point> pts;
  Emit(&pts, "b.metric", 2.5, {{"z", "1"}, {"a", "2"}});
  Emit(&pts, "a.metric", 25276514304);
  Emit(&pts, "c", 1.0 / 3);
  EXPECT_EQ(FormatPoints(pts), "a.metric 25276514304\nb.metric{a=2,z=1} 2.5\nc 0.333333\n");
  EXPECT_EQ(FormatValue(-0.0000001), "0");
}

}  // namespace
}  // namespace hw::collector
