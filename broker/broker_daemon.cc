#include "broker/broker_daemon.h"

#include <filesystem>
#include <system_error>

namespace hw::broker {
namespace {

// The foundation skeleton: it owns the data directory and follows the daemon life cycle (ready,
// reload, stop). The journal, the three sockets and consumer groups come with the broker issue.
class SkeletonBrokerService final : public daemon::Service<BrokerConfig> {
 public:
  explicit SkeletonBrokerService(BrokerConfig config) : config_(std::move(config)) {}

  Status Start() override {
    std::error_code ec;
    std::filesystem::create_directories(config_.data_dir, ec);
    if (ec) return Status::IoError("create data_dir " + config_.data_dir, ec.value());
    spdlog::warn("skeleton broker: data_dir {} ready; journal and sockets are not built yet",
                 config_.data_dir);
    return Status::Ok();
  }

  Status Reload(const BrokerConfig& next) override {
    // Sockets and the journal layout cannot change under running producers; only these may.
    if (next.frontend != config_.frontend || next.backend != config_.backend ||
        next.tap != config_.tap || next.data_dir != config_.data_dir ||
        next.partitions != config_.partitions) {
      return Status::FailedPrecondition(
          "frontend, backend, tap, data_dir and partitions cannot change on reload; restart "
          "instead");
    }
    config_ = next;
    return Status::Ok();
  }

  void Stop() override {}

 private:
  BrokerConfig config_;
};

}  // namespace

daemon::DaemonSpec<BrokerConfig> BrokerDaemonSpec() {
  daemon::DaemonSpec<BrokerConfig> spec;
  spec.name = "hostwatch-broker";
  spec.summary =
      "The durable hub of hostwatch: accepts envelopes from producers, deduplicates and journals "
      "them,\n"
      "acks, and serves consumer groups and the live tap.";
  spec.load = LoadBrokerConfig;
  spec.describe = DescribeBrokerConfig;
  spec.log_options = [](const BrokerConfig& c) { return c.log; };
  spec.create =
      [](const BrokerConfig& c) -> Result<std::unique_ptr<daemon::Service<BrokerConfig>>> {
    return std::unique_ptr<daemon::Service<BrokerConfig>>(
        std::make_unique<SkeletonBrokerService>(c));
  };
  return spec;
}

}  // namespace hw::broker
