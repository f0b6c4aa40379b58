#include "cli/status.h"

#include <gtest/gtest.h>

#include <string>

namespace hw::cli {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

// n producers "host-<i>/collector", host i last seen i seconds ago.
hostwatch::v1::BrokerStats Fleet(int n) {
  hostwatch::v1::BrokerStats st;
  st.set_now_ms(kNow);
  for (int i = 0; i < n; ++i) {
    auto* p = st.add_producers();
    p->set_source("host-" + std::to_string(i) + "/collector");
    p->set_last_seen_ms(kNow - i * 1000);
    p->set_last_seq(static_cast<uint64_t>(i) + 1);
  }
  return st;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(FormatProducersTest, WithinTheLimitListsEveryProducerBySource) {
  const std::string out = FormatProducers(Fleet(3), 50);
  EXPECT_NE(out.find("producers: 3\n"), std::string::npos) << out;
  EXPECT_EQ(Count(out, "/collector"), 3u) << out;
  EXPECT_LT(out.find("host-0/"), out.find("host-1/"));
  EXPECT_LT(out.find("host-1/"), out.find("host-2/"));
  EXPECT_EQ(out.find("more"), std::string::npos) << out;
}

TEST(FormatProducersTest, PastTheLimitListsTheStalestAndCountsTheRest) {
  // 100 hosts seen 0..99 s ago: 39 of them (61..99 s) silent for over a minute.
  const std::string out = FormatProducers(Fleet(100), 5);
  EXPECT_NE(out.find("producers: 100 (39 silent for over a minute); the 5 seen least recently:"),
            std::string::npos)
      << out;
  EXPECT_EQ(Count(out, "/collector"), 5u) << out;
  EXPECT_LT(out.find("host-99/"), out.find("host-98/"));  // stalest first
  EXPECT_NE(out.find("host-95/"), std::string::npos);
  EXPECT_EQ(out.find("host-94/"), std::string::npos);
  EXPECT_NE(out.find("... and 95 more, each seen in the last 1m34s"), std::string::npos) << out;
}

TEST(FormatProducersTest, ZeroMeansAll) {
  const std::string out = FormatProducers(Fleet(100), 0);
  EXPECT_EQ(Count(out, "/collector"), 100u);
  EXPECT_EQ(out.find("more"), std::string::npos);
}

}  // namespace
}  // namespace hw::cli
