#include "common/base/clock.h"

#include <gtest/gtest.h>

namespace hw {
namespace {

TEST(EveryTest, DueOnceThePeriodHasPassedThenStartsTheNext) {
  Every every(10'000, 1'000);
  EXPECT_FALSE(every.Due(1'000));
  EXPECT_FALSE(every.Due(10'999));
  EXPECT_TRUE(every.Due(11'000));
  EXPECT_FALSE(every.Due(11'001));  // the next period started at 11'000
  EXPECT_TRUE(every.Due(21'000));
}

TEST(EveryTest, ForceFiresAtOnceAndRestartsThePeriod) {
  Every every(10'000, 0);
  EXPECT_TRUE(every.Due(3'000, /*force=*/true));
  EXPECT_FALSE(every.Due(12'999));
  EXPECT_TRUE(every.Due(13'000));
}

TEST(EveryTest, ANewIntervalAppliesFromTheNextCheck) {
  Every every(10'000, 0);
  every.set_interval_ms(100);
  EXPECT_FALSE(every.Due(99));
  EXPECT_TRUE(every.Due(100));
}

TEST(EveryTest, FollowsAFakeClock) {
  FakeClock clock;
  Every every(500, clock.MonoMs());
  clock.Advance(499);
  EXPECT_FALSE(every.Due(clock.MonoMs()));
  clock.Advance(1);
  EXPECT_TRUE(every.Due(clock.MonoMs()));
}

}  // namespace
}  // namespace hw
