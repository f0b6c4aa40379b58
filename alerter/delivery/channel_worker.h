// One channel kind's sending thread (mail, webhook, Alertmanager or exec) for OutboxDelivery
// (delivery.h), and its lanes: one per destination (the SMTP server, a URL, a command), each with
// its own queue, oldest job first, and its own backoff, so a destination that is down delays only
// its own jobs (docs/alerter-delivery.md, Retries). The thread sends without the lock held and then
// removes the job from the outbox, moves it to failed/, or puts it back at its lane's front.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "alerter/delivery/delivery.h"
#include "alerter/delivery/outbox.h"
#include "alerter/delivery/senders.h"
#include "common/base/mutex.h"
#include "common/consumer/backoff.h"

namespace hw::alerter::delivery {

// A channel's counters, written by its worker and read by OutboxDelivery::stats().
struct AtomicChannelStats {
  std::atomic<uint64_t> sent{0}, retried{0}, failed{0};
  ChannelStats Load() const { return {sent.load(), retried.load(), failed.load()}; }
};

class ChannelWorker {
 public:
  using Clock = std::chrono::steady_clock;
  using SendFn = std::function<SendOutcome(const OutboxJob&, const AbortFn&)>;

  ChannelWorker(Channel channel, SendFn send, const Outbox* outbox, AtomicChannelStats* stats,
                std::atomic<uint64_t>* pending, const DeliveryOptions& options)
      : channel_(channel),
        send_(std::move(send)),
        outbox_(outbox),
        stats_(stats),
        pending_(pending),
        options_(options) {}

  // Starts the thread; RequestStop and then Join end it.
  void Start();

  void Add(OutboxJob job, const std::string& lane) EXCLUDES(mu_);

  // An Alertmanager re-post: replaces a re-post still waiting in the lane instead of piling up
  // while the Alertmanager is away.
  void AddRepost(OutboxJob job, const std::string& lane) EXCLUDES(mu_);

  void RequestStop(Clock::time_point deadline) EXCLUDES(mu_);

  void Join();

 private:
  struct Lane {
    std::deque<OutboxJob> jobs;
    consumer::Backoff backoff;
    Clock::time_point next_attempt{};
  };

  Lane& LaneFor(const std::string& name) REQUIRES(mu_);

  // Moves the job to send now into *job (false: stop). Waits for work or for a lane's backoff.
  bool NextJob(std::string* lane_name, OutboxJob* job) EXCLUDES(mu_);

  void Run();

  const Channel channel_;
  const SendFn send_;
  const Outbox* const outbox_;
  AtomicChannelStats* const stats_;
  std::atomic<uint64_t>* const pending_;
  const DeliveryOptions options_;
  Mutex mu_;
  CondVar cv_;
  std::map<std::string, Lane> lanes_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  Clock::time_point stop_deadline_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace hw::alerter::delivery
