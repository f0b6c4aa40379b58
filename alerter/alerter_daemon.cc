#include "alerter/alerter_daemon.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "alerter/alerter_sink.h"
#include "alerter/pipeline_journal.h"
#include "common/consumer/consumer_kit.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;

std::string ThisHost() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

class AlerterService : public daemon::Service<AlerterConfig> {
 public:
  AlerterService(AlerterConfig config, DeliveryFactory make_delivery)
      : config_(std::move(config)), make_delivery_(std::move(make_delivery)) {}

  Status Start() override {
    DeliveryConfig dc = config_.delivery;
    if (dc.endpoint.empty()) dc.endpoint = config_.endpoint.empty() ? ThisHost() : config_.endpoint;
    HW_ASSIGN_OR_RETURN(std::unique_ptr<Delivery> delivery, make_delivery_(dc));
    SinkOptions so;
    so.background_save = true;  // the sink thread never waits for a disk
    so.publish = [this](const pb::AlertBatch& batch) -> Status {
      transport::ProducerLink* producer = kit_->producer();
      if (producer == nullptr) return Status::Unavailable("no producer link yet");
      pb::Envelope env;
      *env.mutable_alerts() = batch;
      return producer->Publish(env);
    };
    auto sink = std::make_unique<AlerterSink>(config_, std::move(delivery), std::move(so));
    sink_ = sink.get();
    consumer::KitOptions ko;
    ko.component = "alerter";
    ko.endpoint = config_.endpoint;
    ko.link = config_.link;
    ko.topics = {pb::SAMPLES, pb::EVENTS};
    // The sink reads samples straight from the envelopes' bytes (AlerterSink::HandleBytes): the
    // link thread only scans headers, and no Sample or tag map is built and freed per sample.
    ko.raw_bodies = true;
    HW_ASSIGN_OR_RETURN(kit_, consumer::ConsumerKit::Create(std::move(ko), std::move(sink)));
    HW_RETURN_IF_ERROR(kit_->Start());
    spdlog::info("alerter: {} rules, group {} (start: {}), state in {}", config_.rules.size(),
                 config_.link.group, kit_->start_used(), config_.state_dir);
    return Status::Ok();
  }

  Status Reload(const AlerterConfig& next) override {
    if (next.state_dir != config_.state_dir || next.link.group != config_.link.group ||
        next.link.brokers != config_.link.brokers ||
        next.delivery.outbox_dir != config_.delivery.outbox_dir) {
      return Status::InvalidArgument(
          "state_dir, outbox_dir, link.group and link.brokers change only with a restart");
    }
    sink_->RequestReload(next);
    config_.rules = next.rules;
    config_.pipeline = next.pipeline;
    return Status::Ok();
  }

  void Stop() override {
    if (kit_) kit_->Stop();
  }

  Status Health() override { return kit_ ? kit_->Health() : Status::Ok(); }

 private:
  AlerterConfig config_;
  DeliveryFactory make_delivery_;
  std::unique_ptr<consumer::ConsumerKit> kit_;
  AlerterSink* sink_ = nullptr;  // owned by kit_
};

}  // namespace

DeliveryFactory DefaultDeliveryFactory() {
#if defined(HW_ALERTER_HAS_DELIVERY)
  return [](const DeliveryConfig& c) { return CreateDelivery(c); };
#else
  return [](const DeliveryConfig& c) {
    spdlog::warn(
        "alerter: built without alerter/delivery: notifications go to {}/notifications.log",
        c.outbox_dir);
    return CreateJournalDelivery(c);
  };
#endif
}

Result<std::unique_ptr<daemon::Service<AlerterConfig>>> MakeAlerterService(
    const AlerterConfig& config, DeliveryFactory make_delivery) {
  return std::unique_ptr<daemon::Service<AlerterConfig>>(
      new AlerterService(config, std::move(make_delivery)));
}

daemon::DaemonSpec<AlerterConfig> AlerterDaemonSpec() {
  daemon::DaemonSpec<AlerterConfig> spec;
  spec.name = "hostwatch-alerter";
  spec.summary =
      "Reads samples and log events from the broker, judges threshold, nodata and log-event\n"
      "rules, and notifies receivers (grouped, rate-limited, silenced, inhibited); publishes\n"
      "alert changes back to the broker.";
  spec.load = LoadAlerterConfig;
  spec.describe = DescribeAlerterConfig;
  spec.log_options = [](const AlerterConfig& c) { return c.log; };
  spec.create = [](const AlerterConfig& c) { return MakeAlerterService(c); };
  return spec;
}

}  // namespace hw::alerter
