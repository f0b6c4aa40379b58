// hostwatch-broker's service: opens and recovers the journal and the dedup table, then runs the
// frontend and backend threads until Stop(). See broker/README.md and docs/broker.md.
#pragma once

#include <memory>

#include "broker/broker_config.h"
#include "common/daemon/daemon.h"

namespace hw::broker {

std::unique_ptr<daemon::Service<BrokerConfig>> MakeBrokerService(const BrokerConfig& config);

}  // namespace hw::broker
