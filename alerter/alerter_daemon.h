// hostwatch-alerter as a daemon: the consumer kit with an AlerterSink, and what main.cc hands to
// common/daemon's RunDaemon. See alerter/README.md.
#pragma once

#include <functional>
#include <memory>

#include "alerter/config.h"
#include "alerter/notification.h"
#include "common/daemon/daemon.h"

namespace hw::alerter {

using DeliveryFactory =
    std::function<Result<std::unique_ptr<Delivery>>(const DeliveryConfig& config)>;

// CreateDelivery from alerter/delivery/ when it is built in, else the journal stand-in
// (alerter/pipeline_journal.h).
DeliveryFactory DefaultDeliveryFactory();

Result<std::unique_ptr<daemon::Service<AlerterConfig>>> MakeAlerterService(
    const AlerterConfig& config, DeliveryFactory make_delivery = DefaultDeliveryFactory());

daemon::DaemonSpec<AlerterConfig> AlerterDaemonSpec();

}  // namespace hw::alerter
