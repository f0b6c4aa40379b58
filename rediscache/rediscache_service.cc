#include "rediscache/rediscache_service.h"

#include <spdlog/spdlog.h>

#include "common/consumer/consumer_kit.h"
#include "rediscache/cache_sink.h"

namespace hw::rediscache {
namespace {

class RedisCacheService : public daemon::Service<RedisCacheConfig> {
 public:
  explicit RedisCacheService(RedisCacheConfig config) : config_(std::move(config)) {}

  Status Start() override {
    HW_ASSIGN_OR_RETURN(std::string password, consumer::LoadSecret(config_.password));
    auto sink = std::make_unique<RedisCacheSink>(SinkSettings::From(config_, std::move(password)));
    sink_ = sink.get();
    consumer::KitOptions o;
    o.component = "rediscache";
    o.link = config_.link;
    // The sink reads samples straight from the envelopes' bytes (cache_writer.h): the link
    // thread then only scans headers and copies bytes, and nothing builds a Sample.
    o.raw_bodies = true;
    // Enough envelopes in flight to keep Redis busy while the next ones are planned, handed over
    // in batches of a pipeline each (not the whole window at once), so that planning, Redis and
    // the link overlap; the bytes are the wire bytes, ~1 kB per 64 samples.
    o.credit = 1024;
    o.max_batch = 128;
    o.max_inflight_bytes = 16ull << 20;
    HW_ASSIGN_OR_RETURN(kit_, consumer::ConsumerKit::Create(std::move(o), std::move(sink)));
    spdlog::info("caching into redis {} (prefix \"{}\")",
                 config_.cluster() ? "cluster" : config_.redis.front(), config_.prefix);
    return kit_->Start();
  }

  Status Reload(const RedisCacheConfig& next) override {
    HW_ASSIGN_OR_RETURN(std::string password, consumer::LoadSecret(next.password));
    if (DescribeLink(next) != DescribeLink(config_))
      spdlog::warn("reload: link and curve changes take effect after a restart");
    sink_->Reload(SinkSettings::From(next, std::move(password)));
    RedisCacheConfig kept = next;
    kept.link = config_.link;
    config_ = std::move(kept);
    return Status::Ok();
  }

  void Stop() override {
    if (kit_) kit_->Stop();
  }
  Status Health() override { return kit_ ? kit_->Health() : Status::Ok(); }

 private:
  static std::string DescribeLink(const RedisCacheConfig& c) {
    config::YamlWriter w;
    w.BeginMap("");
    transport::WriteLinkConfig(c.link, &w);
    w.EndMap();
    return w.str();
  }

  RedisCacheConfig config_;
  RedisCacheSink* sink_ = nullptr;  // owned by kit_
  std::unique_ptr<consumer::ConsumerKit> kit_;
};

}  // namespace

Result<std::unique_ptr<daemon::Service<RedisCacheConfig>>> MakeRedisCacheService(
    const RedisCacheConfig& config) {
  return std::unique_ptr<daemon::Service<RedisCacheConfig>>(new RedisCacheService(config));
}

daemon::DaemonSpec<RedisCacheConfig> RedisCacheDaemonSpec() {
  daemon::DaemonSpec<RedisCacheConfig> spec;
  spec.name = "hostwatch-rediscache";
  spec.summary =
      "Keeps the fleet's latest values, recent history, host registry, log events and active\n"
      "alerts in Redis or a Redis Cluster (key schema: rediscache/README.md).";
  spec.load = LoadRedisCacheConfig;
  spec.describe = DescribeRedisCacheConfig;
  spec.log_options = [](const RedisCacheConfig& c) { return c.log; };
  spec.create = MakeRedisCacheService;
  return spec;
}

}  // namespace hw::rediscache
