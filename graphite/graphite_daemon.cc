#include "graphite/graphite_daemon.h"

#include "common/consumer/consumer_kit.h"

namespace hw::graphite {
namespace {

class GraphiteService : public daemon::Service<GraphiteConfig> {
 public:
  explicit GraphiteService(GraphiteConfig config) : config_(std::move(config)) {}

  Status Start() override {
    consumer::KitOptions o;
    o.component = "graphite";
    o.link = config_.link;
    o.topics = {hostwatch::v1::SAMPLES, hostwatch::v1::ALERTS};
    // The link parses every delivery the socket holds before it hands any over; a smaller window
    // gets the first lines out sooner and keeps the sink busy while the link parses the next.
    o.credit = 512;
    auto sink = std::make_unique<GraphiteSink>(config_.graphite);
    sink_ = sink.get();
    HW_ASSIGN_OR_RETURN(kit_, consumer::ConsumerKit::Create(std::move(o), std::move(sink)));
    return kit_->Start();
  }

  Status Reload(const GraphiteConfig& next) override {
    if (DescribeLink(next) != DescribeLink(config_))
      return Status::FailedPrecondition("link: and curve: changes need a restart");
    sink_->Reconfigure(next.graphite);
    config_ = next;
    return Status::Ok();
  }

  void Stop() override {
    if (kit_) kit_->Stop();
  }

  Status Health() override { return kit_ ? kit_->Health() : Status::Ok(); }

 private:
  static std::string DescribeLink(const GraphiteConfig& c) {
    config::YamlWriter w;
    w.BeginMap("");
    transport::WriteLinkConfig(c.link, &w);
    w.EndMap();
    return w.str();
  }

  GraphiteConfig config_;
  GraphiteSink* sink_ = nullptr;  // owned by kit_
  std::unique_ptr<consumer::ConsumerKit> kit_;
};

}  // namespace

Result<std::unique_ptr<daemon::Service<GraphiteConfig>>> MakeGraphiteService(
    const GraphiteConfig& config) {
  return std::unique_ptr<daemon::Service<GraphiteConfig>>(new GraphiteService(config));
}

daemon::DaemonSpec<GraphiteConfig> GraphiteDaemonSpec() {
  daemon::DaemonSpec<GraphiteConfig> spec;
  spec.name = "hostwatch-graphite";
  spec.summary =
      "The graphite consumer of hostwatch: forwards every sample from the broker to carbon\n"
      "(plaintext, path or tagged names) over carbon's consistent-hash ring, and alerts to\n"
      "graphite-web as events. Commits only what carbon settled or what is spooled on disk.";
  spec.load = LoadGraphiteConfig;
  spec.describe = DescribeGraphiteConfig;
  spec.log_options = [](const GraphiteConfig& c) { return c.log; };
  spec.create = MakeGraphiteService;
  return spec;
}

}  // namespace hw::graphite
