#include "collector/counter_rates.h"

#include <gtest/gtest.h>

namespace hw::collector {
namespace {

TEST(CounterDeltaTest, IncreaseWrapAndReset) {
  EXPECT_EQ(CounterDelta(100, 150), 50u);
  EXPECT_EQ(CounterDelta(7, 7), 0u);
  // A 32-bit counter that wrapped: old value high, new value low, small implied increase.
  EXPECT_EQ(CounterDelta(4294967000ull, 704), 1000u);
  // Resets: a 64-bit counter going down, a 32-bit one whose "wrap" would imply more than 1 GiB,
  // and a low value going lower.
  EXPECT_EQ(CounterDelta(10000000000ull, 5), std::nullopt);
  EXPECT_EQ(CounterDelta(3000000000ull, 2000000000ull), std::nullopt);
  EXPECT_EQ(CounterDelta(900000000, 5000), std::nullopt);
}

TEST(CounterRatesTest, FirstValueHasNoRateThenPerSecond) {
  CounterRates r;
  EXPECT_EQ(r.Rate("a", 1000, 10000), std::nullopt);
  EXPECT_EQ(r.Rate("a", 3000, 20000), 200.0);
  EXPECT_EQ(r.Rate("a", 3000, 20000), std::nullopt);  // no time elapsed: no division by zero
}

TEST(CounterRatesTest, ResetGivesNoRateAndBecomesTheNewBase) {
  CounterRates r;
  (void)r.Rate("a", 900000000, 0);
  EXPECT_EQ(r.Rate("a", 10, 1000), std::nullopt);
  EXPECT_EQ(r.Rate("a", 110, 2000), 100.0);
}

TEST(CounterRatesTest, SweepForgetsSeriesNotSeen) {
  CounterRates r;
  (void)r.Rate("gone", 1, 0);
  (void)r.Rate("kept", 1, 0);
  r.Sweep();
  (void)r.Rate("kept", 2, 1000);
  r.Sweep();
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.Rate("gone", 5, 2000), std::nullopt);  // back as a new series
}

}  // namespace
}  // namespace hw::collector
