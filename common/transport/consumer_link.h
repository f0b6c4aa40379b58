// The consumer link (docs/architecture.md §1 and §7): reads a consumer group from every listed
// broker's backend, drops duplicates by (source, epoch, seq), and commits only what the caller says
// it has finished.
//
// Protocol (docs/wire_format.md §5): Subscribe{group, topics, start, credit} -> Assignment; each
// Delivery is two frames [ConsumerMessage{delivery}, envelope bytes]; Credit{n} grants more; Commit
// {partition, offset} is cumulative; a Heartbeat after a second without any other request.
//
// Threads: not thread-safe; one thread owns a ConsumerLink and its sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/status/status.h"
#include "common/transport/link_config.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::transport {

struct ConsumerOptions {
  std::string group;                         // required
  std::vector<hostwatch::v1::Topic> topics;  // empty: every topic
  hostwatch::v1::Subscribe::Start start = hostwatch::v1::Subscribe::COMMITTED;
  uint32_t credit = 2048;  // deliveries in flight per broker
  // false: a Delivery's envelope carries only its header (source, epoch, seq, sent_ms) and
  // `items` is counted on the wire; for consumers that only count or forward, and skip the cost
  // of building every Sample.
  bool parse_bodies = true;
  // true: each Delivery also carries the envelope's wire bytes in `body` (no copy, no parse). With
  // parse_bodies false this moves the decoding off the link thread: the caller reads the bytes on
  // its own thread, and only what it needs (rediscache: common/naming/sample_wire.h).
  bool keep_body = false;
  LinkConfig link;  // brokers/backends and curve are used; spool settings are not
  // A (source, epoch) that has delivered nothing for this long is forgotten by the duplicate
  // filter and dropped from stats().sources (common/transport/dedup_tracker.h): each `hostwatch
  // send` is an epoch of its own, and a consumer that runs for months must not keep them all.
  std::chrono::milliseconds dedup_forget_after{std::chrono::hours(1)};
  // The link's timers (heartbeat when idle, resubscription after silence or an error, forgetting
  // idle sources) read this clock's monotonic time; nullptr: the real one. Poll's timeout is the
  // caller's and stays on real time. A test's FakeClock must outlive the link.
  const hw::Clock* clock = nullptr;
};

struct Delivery {
  size_t broker = 0;  // index into the broker list
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint64_t items = 0;  // samples, events or alerts in the envelope
  hostwatch::v1::Envelope envelope;
  // With ConsumerOptions::keep_body: the envelope's wire bytes, kept alive by body_owner (the
  // received message itself, so no copy; it may be released on any thread). Else empty.
  std::string_view body;
  std::shared_ptr<const void> body_owner;
};

// Per (source, epoch) accounting, for `hostwatch consume --format summary`.
struct SourceSummary {
  uint64_t received = 0;    // distinct envelopes
  uint64_t items = 0;       // samples + events + alerts in them
  uint64_t duplicates = 0;  // deliveries dropped as already seen
  uint64_t missing = 0;     // seqs in [1, max seq] never received
  uint64_t max_seq = 0;
};

struct ConsumerStats {
  uint64_t deliveries = 0;  // everything the brokers sent
  uint64_t duplicates = 0;
  uint64_t malformed = 0;  // deliveries that did not parse (counted, committed, skipped)
  // Key "<source>#<epoch hex>"; a pair idle for dedup_forget_after is dropped.
  std::map<std::string, SourceSummary> sources;
};

class ConsumerLink {
 public:
  static Result<std::unique_ptr<ConsumerLink>> Connect(const ConsumerOptions& options);
  ~ConsumerLink();

  // Waits up to `timeout` for deliveries and returns at most `max` new ones (duplicates and
  // malformed deliveries are dropped, counted, and their offsets committed with the next Commit).
  // Sends heartbeats and credit as needed. An empty vector on timeout.
  Result<std::vector<Delivery>> Poll(std::chrono::milliseconds timeout, size_t max);

  // The caller's side effect for these deliveries is done: commit the highest offset per (broker,
  // partition) among them (cumulative).
  Status Commit(const std::vector<Delivery>& done);

  // Partitions assigned per broker at the moment (changes with rebalances).
  std::vector<std::vector<uint32_t>> assignments() const;
  const ConsumerStats& stats() const;
  // Recomputes `missing` for every source from what was received.
  ConsumerStats Summary() const;

 private:
  struct Impl;
  explicit ConsumerLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One Stats round trip to a broker backend (for `hostwatch status`).
Result<hostwatch::v1::BrokerStats> QueryBrokerStats(const std::string& backend,
                                                    const CurveClientConfig& curve,
                                                    std::chrono::milliseconds timeout);

}  // namespace hw::transport
