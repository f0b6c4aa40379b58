#include "graphite/graphite_sink.h"

#include <gtest/gtest.h>

#include <limits>

#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "graphite/line_listener_for_test.h"

namespace hw::graphite {
namespace {

using namespace std::chrono_literals;

class RecordingFinisher : public consumer::Finisher {
 public:
  using consumer::Finisher::Finish;
  void Finish(std::span<const consumer::DeliveryId> done) override {
    for (const auto& d : done) offsets.push_back(d.offset);
  }
  std::vector<uint64_t> offsets;
};

consumer::Delivery Samples(uint64_t offset, const std::string& endpoint,
                           std::vector<std::pair<std::string, double>> points) {
  consumer::Delivery d;
  d.offset = offset;
  auto* b = d.envelope.mutable_samples();
  b->set_endpoint(endpoint);
  for (const auto& [metric, value] : points) {
    auto* s = b->add_samples();
    s->set_metric(metric);
    s->set_value(value);
    s->set_time_ms(1795301100000);
  }
  return d;
}

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

class GraphiteSinkTest : public ::testing::Test {
 protected:
  GraphiteOptions Options(std::vector<uint16_t> ports) {
    GraphiteOptions o;
    const char* instances[] = {"a", "b", "c"};
    for (size_t i = 0; i < ports.size(); ++i) {
      o.destinations.push_back(
          *ParseCarbonDestination("127.0.0.1:" + std::to_string(ports[i]) + ":" + instances[i]));
    }
    o.diverse_replicas = false;  // both on 127.0.0.1
    o.settle = 200ms;
    o.spool_dir = dir_.Sub("out").string();
    o.spool_max_bytes = 1 << 20;
    return o;
  }
  bool TickUntil(GraphiteSink& sink, const std::function<bool()>& pred) {
    return hw::testing::WaitFor(
        [&] {
          sink.Tick(std::chrono::steady_clock::now(), finisher_);
          return pred();
        },
        10s, 5ms);
  }

  hw::testing::TempDir dir_;
  RecordingFinisher finisher_;
};

TEST_F(GraphiteSinkTest, FinishesWhenEveryDestinationSettledOrSpooled) {
  LineListener up;
  LineListener down;
  const uint16_t down_port = down.port();
  down.Stop();
  auto sink = std::make_unique<GraphiteSink>(Options({up.port(), down_port}));
  ASSERT_TRUE(sink->Open().ok());
  std::vector<std::pair<std::string, double>> pts;
  for (int i = 0; i < 50; ++i) pts.emplace_back("m" + std::to_string(i), i);
  std::vector<consumer::Delivery> batch;
  batch.push_back(Samples(1, "h", pts));
  // Nothing sendable: finished at once, counted.
  batch.push_back(
      Samples(2, "h", {{"bad..name", 1}, {"nan", std::numeric_limits<double>::quiet_NaN()}}));
  sink->Consume(std::move(batch), finisher_);
  EXPECT_EQ(finisher_.offsets, std::vector<uint64_t>{2});
  ASSERT_TRUE(TickUntil(*sink, [&] { return finisher_.offsets.size() == 2; }));
  EXPECT_EQ(finisher_.offsets[1], 1u);
  const size_t on_up = Lines(up.received());
  EXPECT_GT(on_up, 0u);
  EXPECT_LT(on_up, 50u);  // the ring split the names; the rest is spooled for the down one
  RecordingFinisher closing;
  sink->Close(closing);
  sink.reset();  // the process ends

  // The down one comes back: a new sink (a restart) sends it the spool.
  down.Listen(down_port);
  GraphiteSink again(Options({up.port(), down_port}));
  Status opened = again.Open();
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  ASSERT_TRUE(TickUntil(again, [&] { return Lines(down.received()) == 50 - on_up; }))
      << down.received();
  EXPECT_EQ(Lines(up.received()), on_up);
  again.Close(closing);
}

TEST_F(GraphiteSinkTest, ReloadMovesNewLinesToTheNewDestinations) {
  LineListener first, second;
  GraphiteSink sink(Options({first.port()}));
  ASSERT_TRUE(sink.Open().ok());
  std::vector<consumer::Delivery> batch;
  batch.push_back(Samples(1, "h", {{"x.one", 1}}));
  sink.Consume(std::move(batch), finisher_);
  ASSERT_TRUE(TickUntil(sink, [&] { return finisher_.offsets.size() == 1; }));
  GraphiteOptions next = Options({second.port()});
  next.naming.prefix = "reloaded";
  sink.Reconfigure(next);
  sink.Tick(std::chrono::steady_clock::now(), finisher_);
  batch.clear();
  batch.push_back(Samples(2, "h", {{"x.two", 2}}));
  sink.Consume(std::move(batch), finisher_);
  ASSERT_TRUE(TickUntil(sink, [&] { return finisher_.offsets.size() == 2; }));
  EXPECT_EQ(first.received(), "hostwatch.h.x.one 1 1795301100\n");
  EXPECT_EQ(second.received(), "reloaded.h.x.two 2 1795301100\n");
  sink.Close(finisher_);
}

}  // namespace
}  // namespace hw::graphite
