// A stand-in for the send half (alerter/delivery/) when the daemon is built without it: each
// Notification is appended, as DescribeNotification text, to <outbox_dir>/notifications.log and
// fsynced before Enqueue returns. Nothing is mailed. With alerter/delivery/ linked, the daemon uses
// CreateDelivery instead (alerter_daemon.cc).
#pragma once

#include <memory>
#include <string>

#include "alerter/notification.h"
#include "common/status/status.h"

namespace hw::alerter {

Result<std::unique_ptr<Delivery>> CreateJournalDelivery(const DeliveryConfig& config);

}  // namespace hw::alerter
