#include "broker/broker_daemon.h"

#include "broker/broker_service.h"

namespace hw::broker {

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
    return MakeBrokerService(c);
  };
  return spec;
}

}  // namespace hw::broker
