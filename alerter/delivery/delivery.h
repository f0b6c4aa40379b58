// The send half of the alerter (alerter/notification.h has the contract): a persistent outbox
// and one worker thread per channel kind (mail, webhook, alertmanager, exec), so a hung SMTP
// server never holds back a webhook or a recovery action. docs/alerter-delivery.md has the
// operator's view.
//
// Enqueue renders the notification for every channel of its receiver and stores one outbox job per
// channel (outbox.h) before it returns. Each worker sends its jobs oldest first per lane (a lane
// is one destination: the SMTP server, one URL, one command); a retryable failure (senders.h says
// which) holds that lane back with backoff (common/consumer/backoff.h) and keeps the job; a final
// failure moves it to <outbox_dir>/failed/ and counts it. Jobs left at Stop or at a crash are sent
// after the next start.
//
// The alertmanager channel also keeps the alerts that are firing (<outbox_dir>/alertmanager.state,
// replaced atomically) and re-posts them every `alertmanager_repost` from Tick, since Alertmanager
// resolves an alert on its own when it stops hearing about it.
//
// Thread-safety: Enqueue, Tick, Stop and stats() may be called from any thread; Tick only queues
// work and never waits on the network.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "alerter/notification.h"
#include "common/status/status.h"

namespace hw::alerter::delivery {

struct DeliveryOptions {
  // Backoff of a lane after a retryable failure (100 ms doubling to 30 s, as for every consumer).
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{30000};
  // How often firing alerts are posted again to an Alertmanager (its resolve_timeout is 5m).
  std::chrono::milliseconds alertmanager_repost{60000};
  // Webhook and Alertmanager requests.
  std::chrono::milliseconds http_timeout{10000};
};

struct ChannelStats {
  uint64_t sent = 0;     // delivered (or written to sent/ without SMTP)
  uint64_t retried = 0;  // attempts that failed and will be retried
  uint64_t failed = 0;   // given up: 5xx, refused by the receiver, exec failed or timed out
};

struct DeliveryStats {
  ChannelStats mail, webhook, alertmanager, exec;
  uint64_t enqueued = 0;       // notifications accepted by Enqueue
  uint64_t recovered = 0;      // jobs found in the outbox at start
  uint64_t corrupt = 0;        // outbox files that failed their checksum (moved to failed/)
  uint64_t exec_timeouts = 0;  // exec commands killed at their timeout
  uint64_t pending = 0;        // jobs not yet sent (in the outbox)
  uint64_t repeats = 0;        // notifications whose id was enqueued before: not sent again
  uint64_t pruned = 0;         // files removed from sent/ and failed/ after outbox_keep
};

class OutboxDelivery final : public Delivery {
 public:
  // Validates the config (addresses, URLs, the SMTP password's file or variable), opens and
  // recovers the outbox, and starts the workers.
  static Result<std::unique_ptr<OutboxDelivery>> Open(const DeliveryConfig& config,
                                                      const DeliveryOptions& options = {});
  ~OutboxDelivery() override;  // Stop(0) if Stop was not called
  OutboxDelivery(const OutboxDelivery&) = delete;
  OutboxDelivery& operator=(const OutboxDelivery&) = delete;

  Status Enqueue(const Notification& n) override;
  void Tick(int64_t now_ms) override;
  void Stop(std::chrono::milliseconds deadline) override;

  DeliveryStats stats() const;

  class Impl;

 private:
  explicit OutboxDelivery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::alerter::delivery
