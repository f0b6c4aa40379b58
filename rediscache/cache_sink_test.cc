#include "rediscache/cache_sink.h"

#include <gtest/gtest.h>

#include "common/base/mutex.h"
#include "common/testing/wait.h"

namespace hw::rediscache {
namespace {

using namespace std::chrono_literals;

// Answers every command with +OK after `fail` failed attempts; reports a restart when told.
struct FakeBackend : RedisBackend {
  int fail = 0;
  bool restart_after_next = false;
  bool restarted = false;
  std::vector<Pipeline> runs;  // the successful ones
  int attempts = 0;
  Result<std::vector<Reply>> Run(const Pipeline& p) override {
    ++attempts;
    if (fail > 0) {
      --fail;
      return Status::Unavailable("redis down");
    }
    if (restart_after_next) {
      restart_after_next = false;
      restarted = true;
    }
    runs.push_back(p);
    std::vector<Reply> r(p.size());
    for (Reply& x : r) x.type = Reply::Type::kStatus;
    return r;
  }
  bool TakeRestarted() override {
    const bool r = restarted;
    restarted = false;
    return r;
  }
  std::string Describe() const override { return "fake"; }
};

struct RecordingFinisher : consumer::Finisher {
  std::vector<consumer::DeliveryId> done;
  void Finish(std::span<const consumer::DeliveryId> ids) override {
    done.insert(done.end(), ids.begin(), ids.end());
  }
};

consumer::Delivery Sample(uint64_t offset, const std::string& e, double v) {
  consumer::Delivery d;
  d.offset = offset;
  d.envelope.set_source(e + "/collector");
  d.envelope.set_seq(offset);
  d.envelope.mutable_samples()->set_endpoint(e);
  auto* s = d.envelope.mutable_samples()->add_samples();
  s->set_metric("cpu.busy");
  s->set_value(v);
  s->set_time_ms(1000 + static_cast<int64_t>(offset));
  return d;
}

class CacheSinkTest : public ::testing::Test {
 protected:
  CacheSinkTest()
      : sink_(SinkSettings{}, [this](const SinkSettings&) {
          auto b = std::make_unique<FakeBackend>();
          fake_ = b.get();
          return b;
        }) {}
  bool TickUntil(const std::function<bool()>& pred) {
    return testing::WaitFor(
        [&] {
          sink_.Tick(std::chrono::steady_clock::now(), finisher_);
          return pred();
        },
        10s, 5ms);
  }
  FakeBackend* fake_ = nullptr;
  RedisCacheSink sink_;
  RecordingFinisher finisher_;
};

TEST_F(CacheSinkTest, FinishesOnlyAfterTheWriteAndRetriesInOrder) {
  fake_->fail = 3;
  sink_.Consume({Sample(1, "a", 1)}, finisher_);
  sink_.Consume({Sample(2, "a", 2)}, finisher_);
  EXPECT_TRUE(finisher_.done.empty());
  EXPECT_EQ(fake_->attempts, 1);  // the second batch waits behind the first, not retried at once
  ASSERT_TRUE(TickUntil([&] { return finisher_.done.size() == 2; }));
  EXPECT_EQ(finisher_.done[0].offset, 1u);
  EXPECT_EQ(finisher_.done[1].offset, 2u);
  EXPECT_EQ(fake_->attempts, 5);  // 3 failures (with backoff between them), then 2 writes
  EXPECT_EQ(sink_.stats().failures, 3u);
  EXPECT_EQ(sink_.stats().batches, 2u);
}

TEST_F(CacheSinkTest, RestartedRedisGetsTheRegistryRewrittenAtOnce) {
  sink_.Consume({Sample(1, "a", 1), Sample(2, "b", 2)}, finisher_);
  ASSERT_EQ(finisher_.done.size(), 2u);
  fake_->restart_after_next = true;
  sink_.Consume({Sample(3, "a", 3)}, finisher_);
  ASSERT_EQ(finisher_.done.size(), 3u);
  ASSERT_EQ(fake_->runs.size(), 3u);
  // The third run is the rewrite: both hosts, with first_seen, and b's latest value.
  bool b_latest = false, b_host = false;
  for (const Command& c : fake_->runs[2]) {
    b_latest |= c.argv[0] == "HSET" && c.argv[1] == "hw:latest:{b}" && c.argv[3] == "2 1002";
    b_host |= c.argv[0] == "HSET" && c.argv[1] == "hw:host:{b}" && c.argv[2] == "first_seen";
  }
  EXPECT_TRUE(b_latest);
  EXPECT_TRUE(b_host);
  EXPECT_EQ(sink_.stats().rewrites, 1u);
}

TEST_F(CacheSinkTest, ReloadWithAnotherServerRewritesToIt) {
  sink_.Consume({Sample(1, "a", 1)}, finisher_);
  SinkSettings next;
  next.addresses = {RedisAddress{"127.0.0.1", 6390}};
  next.writer.prefix = "x:";
  sink_.Reload(next);
  ASSERT_TRUE(TickUntil([&] { return !fake_->runs.empty(); }));
  EXPECT_EQ(fake_->runs[0][0].argv[1], "x:hosts");
}

}  // namespace
}  // namespace hw::rediscache
