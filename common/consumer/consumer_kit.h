// The consumer kit (delivery guarantees: docs/architecture.md §7): what every consumer daemon
// (alerter, rediscache, graphite) shares, so each daemon only writes its Sink.
//
// Threads and rules:
//  - The link thread owns the ConsumerLink and only polls, heartbeats and commits. It never waits
//    on the sink, so a slow or hung backend (Redis, SMTP, carbon) never starves the heartbeats
//    that keep this member in its group.
//  - The sink thread calls Sink::Consume with batches of new deliveries (duplicates by (source,
//    epoch, seq) are already dropped by the link) and Sink::Tick at least every TickInterval().
//  - A delivery is committed only after the sink called Finish for it and for every delivery of
//    the same (broker, partition) before it (CommitTracker): the sink may finish out of order
//    and from any thread, e.g. when carbon settles or an SMTP retry succeeds.
//  - Backpressure: while the bytes handed to the sink and not yet finished exceed
//    max_inflight_bytes, the link thread stops taking deliveries from the link (so the link
//    stops returning credit, and the broker stops sending) and waits on the sink's progress, not
//    in a spin; it keeps heartbeating meanwhile.
//  - At most one batch waits for the sink: while one does, the link thread takes nothing more
//    and what arrives stays in the socket, to be taken as one batch when the sink takes the
//    waiting one. A sink that is behind thus gets a few big batches, not a wake-up of this thread
//    (and a signal from ZeroMQ's I/O thread) per few envelopes; a sink that keeps up sees no
//    difference.
//  - Where a group starts: `link.start` applies only to a group the brokers do not know yet; a
//    group with a commit always resumes after it.
//  - Self-metrics `hostwatch.<component>.*` (deliveries, duplicates, malformed, commits, lag,
//    in-flight bytes, waiting batches, commit latency, plus the sink's own) are published every
//    self_metrics_interval through the kit's producer link, which the sink may also use (the
//    alerter publishes its AlertBatches there).
//  - Health (the watchdog): the sink thread is alive and makes progress while work is pending.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status/status.h"
#include "common/transport/consumer_link.h"
#include "common/transport/link_config.h"
#include "common/transport/producer_link.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::consumer {

using Delivery = transport::Delivery;

// Identifies a delivery for Finish; cheap to copy and keep.
struct DeliveryId {
  size_t broker = 0;
  uint32_t partition = 0;
  uint64_t offset = 0;
};
inline DeliveryId IdOf(const Delivery& d) { return {d.broker, d.partition, d.offset}; }

// Thread-safe: a sink reports the deliveries whose side effect is done.
class Finisher {
 public:
  virtual ~Finisher() = default;
  virtual void Finish(std::span<const DeliveryId> done) = 0;
  void Finish(const DeliveryId& one) { Finish(std::span<const DeliveryId>(&one, 1)); }
};

// Samples for self-metrics; the kit sets time and step.
struct MetricOut {
  std::vector<hostwatch::v1::Sample>* samples;
  void Gauge(const std::string& metric, double value, std::map<std::string, std::string> tags = {});
  void Counter(const std::string& metric, uint64_t value,
               std::map<std::string, std::string> tags = {});
};

class Sink {
 public:
  virtual ~Sink() = default;
  // On the sink thread, before the first batch; an error stops the kit's Start.
  virtual Status Open() { return Status::Ok(); }
  // On the sink thread: a batch of new deliveries, in offset order per (broker, partition). Every
  // one must be finished through `finisher`, now or later (and then from any thread). A delivery
  // never finished is never committed, and is delivered again after a restart.
  virtual void Consume(std::vector<Delivery> batch, Finisher& finisher) = 0;
  // On the sink thread, at least every TickInterval() and after every Consume: timers (nodata,
  // settle, retries, flushes).
  virtual void Tick(std::chrono::steady_clock::time_point now, Finisher& finisher) {
    (void)now;
    (void)finisher;
  }
  virtual std::chrono::milliseconds TickInterval() const { return std::chrono::seconds(1); }
  // On the sink thread, once, when the kit stops: flush and save. Deliveries finished here are
  // still committed.
  virtual void Close(Finisher& finisher) { (void)finisher; }
  // Any thread (the main thread): the sink's own self-metrics, `hostwatch.<component>.<name>`.
  virtual void AppendMetrics(MetricOut out) { (void)out; }
};

struct KitOptions {
  std::string
      component;         // "alerter": group default, metric prefix, source "<endpoint>/<component>"
  std::string endpoint;  // empty: this host's name
  transport::LinkConfig link;  // link.group, link.start ("earliest" | "latest"), brokers, curve
  std::vector<hostwatch::v1::Topic> topics;  // empty: every topic
  uint32_t credit = 2048;
  size_t max_batch = 1024;  // deliveries per Consume call
  // true: each delivery reaches the sink as its wire bytes (Delivery::body) and an envelope with
  // only its header (source, epoch, seq, sent_ms); the sink decodes on its own thread. The link
  // thread then only scans headers, so it keeps up with the broker however costly the bodies.
  bool raw_bodies = false;
  uint64_t max_inflight_bytes = 64ull << 20;  // handed to the sink and not finished
  std::chrono::milliseconds self_metrics_interval{10000};
  // Health fails when work is pending and the sink thread has not returned from a call for this
  // long (a hung sink): the daemon exits 1 and its supervisor restarts it.
  std::chrono::milliseconds stall_after{120000};
  // How long Start waits for a broker's answer to the "is this group new" question before
  // subscribing with start: committed (a new group then starts at the earliest record).
  std::chrono::milliseconds start_query_timeout{3000};
};

struct KitStats {
  uint64_t deliveries = 0;  // handed to the sink
  uint64_t duplicates = 0;
  uint64_t malformed = 0;
  uint64_t finished = 0;
  uint64_t commits = 0;  // Commit calls that carried offsets
  uint64_t commit_errors = 0;
  uint64_t inflight_bytes = 0;  // handed to the sink, not finished
  uint64_t inflight = 0;
  uint64_t backpressure_waits = 0;
  // Batches handed to the sink that it has not started on. At most 1: while one waits, the link
  // thread takes nothing more (what arrives waits in the socket, to be taken as one batch).
  uint64_t waiting_batches = 0;
  double lag_s = 0;              // age (sent_ms) of the newest envelope handed to the sink
  double commit_latency_ms = 0;  // last: handed to the sink -> committed, for the oldest in it
};

class ConsumerKit {
 public:
  // Validates options; nothing starts yet.
  static Result<std::unique_ptr<ConsumerKit>> Create(KitOptions options,
                                                     std::unique_ptr<Sink> sink);
  ~ConsumerKit();  // Stop()

  // Starts the producer link (self-metrics), decides the start position, connects the consumer
  // link, calls Sink::Open on the sink thread and starts both threads.
  Status Start();
  // Stops taking deliveries, lets the sink close, commits what it finished, joins the threads.
  void Stop();
  // The watchdog: the threads are alive and the sink makes progress. Also publishes self-metrics
  // when they are due (call it every second or so: the daemon's Health()).
  Status Health();

  KitStats stats() const;
  Sink& sink();
  // For the sink to publish its own messages (AlertBatch); null before Start.
  transport::ProducerLink* producer();
  // The start the first Subscribe used (for tests and logs): "committed", "earliest", "latest".
  std::string start_used() const;

 private:
  struct Impl;
  explicit ConsumerKit(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::consumer
