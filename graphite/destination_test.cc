#include "graphite/destination.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/base/mutex.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "graphite/line_listener_for_test.h"

namespace hw::graphite {
namespace {

using namespace std::chrono_literals;
using Clock = Destination::Clock;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

class DestinationTest : public ::testing::Test {
 protected:
  std::unique_ptr<Destination> Make(uint16_t port) {
    DestinationOptions o;
    o.address = *ParseCarbonDestination("127.0.0.1:" + std::to_string(port) + ":a");
    o.settle = 500ms;
    o.spool_dir = dir_.Sub("spool");
    o.spool_max_bytes = 1 << 20;
    Result<std::unique_ptr<Destination>> d = Destination::Open(o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(*d) : nullptr;
  }
  // Pumps at fake time `at` (real sockets) until pred holds.
  bool PumpUntil(Destination& d, Clock::time_point at, const std::function<bool()>& pred) {
    return hw::testing::WaitFor(
        [&] {
          d.Pump(at, &done_);
          return pred();
        },
        5s, 2ms);
  }

  hw::testing::TempDir dir_;
  std::vector<uint64_t> done_;
};

TEST_F(DestinationTest, SettlesOnlyAfterSettleWithAHealthyConnection) {
  LineListener carbon;
  auto d = Make(carbon.port());
  d->Add("a.b 1 100\na.c 2 100\n", 2, 7);
  const Clock::time_point t0 = Clock::now();
  ASSERT_TRUE(PumpUntil(*d, t0, [&] { return carbon.received() == "a.b 1 100\na.c 2 100\n"; }));
  d->Pump(t0 + 400ms, &done_);
  EXPECT_TRUE(done_.empty());
  d->Pump(t0 + 501ms, &done_);
  EXPECT_EQ(done_, std::vector<uint64_t>{7});
  EXPECT_EQ(d->stats().lines_settled, 2u);
  EXPECT_EQ(d->stats().lines_resent, 0u);
}

TEST_F(DestinationTest, ResendsWhatWasNotSettledAfterADisconnect) {
  LineListener carbon;
  auto d = Make(carbon.port());
  d->Add("x.y 5 200\n", 1, 1);
  Clock::time_point t = Clock::now();
  ASSERT_TRUE(PumpUntil(*d, t, [&] { return Count(carbon.received(), "x.y 5 200\n") == 1; }));
  carbon.DropConnection();
  t += 100ms;  // within settle
  ASSERT_TRUE(PumpUntil(*d, t, [&] { return d->stats().disconnects == 1; }));
  EXPECT_TRUE(done_.empty());
  t += 200ms;  // past the first reconnect backoff
  ASSERT_TRUE(PumpUntil(*d, t, [&] { return Count(carbon.received(), "x.y 5 200\n") == 2; }));
  EXPECT_EQ(d->stats().lines_resent, 1u);
  t += 600ms;
  d->Pump(t, &done_);
  EXPECT_EQ(done_, std::vector<uint64_t>{1});
}

TEST_F(DestinationTest, SpoolsWhileDownAndSendsTheSpoolWhenBackEvenAfterARestart) {
  LineListener carbon;
  const uint16_t port = carbon.port();
  carbon.Stop();
  Clock::time_point t = Clock::now();
  {
    auto d = Make(port);
    d->Add("s.a 1 300\n", 1, 1);
    d->Add("s.b 2 300\n", 1, 2);
    d->Pump(t, &done_);
    ASSERT_TRUE(PumpUntil(*d, t, [&] { return d->stats().connect_failures >= 1; }));
    EXPECT_TRUE(done_.empty());  // not down long enough yet
    t += 501ms;
    d->Pump(t, &done_);
    EXPECT_EQ(done_, (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(d->stats().lines_spooled, 2u);
    EXPECT_GE(d->stats().spool_records, 1u);
    d->Add("s.c 3 310\n", 1, 3);  // still down: straight on
    t += 600ms;
    d->Pump(t, &done_);
    EXPECT_EQ(done_.back(), 3u);
  }  // the process stops: the spool stays
  carbon.Listen(port);
  auto d = Make(port);
  EXPECT_GE(d->stats().spool_records, 2u);
  t += 1s;
  ASSERT_TRUE(PumpUntil(*d, t, [&] {
    std::string r = carbon.received();
    return Count(r, "s.a 1 300\n") == 1 && Count(r, "s.b 2 300\n") == 1 &&
           Count(r, "s.c 3 310\n") == 1;
  }));
  t += 501ms;
  d->Pump(t, &done_);
  EXPECT_EQ(d->stats().lines_from_spool, 3u);
  EXPECT_EQ(d->stats().spool_records, 0u);
}

}  // namespace
}  // namespace hw::graphite
