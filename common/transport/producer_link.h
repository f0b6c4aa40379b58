// The producer link (docs/wire_format.md §4): at-least-once delivery of envelopes to the broker.
//
// Publish() appends to the spool (durable before it returns) and wakes the link thread, which owns
// the DEALER socket: it sends up to `window` envelopes ahead of the last ack, handles cumulative
// acks (releasing the spool), GAP acks (go back once), REJECTED acks (count, log, move on), resends
// from the last ack when no ack progress is made for resend_timeout, and fails over to the next
// broker in the list when its broker stays silent for failover_after. See docs/wire_format.md §4
// and docs/decisions/002-producer-link-spool.md (what the spool stores; re-epoching after a drop).
//
// Threads: Publish, WaitAcked and stats may be called from any thread. The socket belongs to the
// link thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/base/clock.h"
#include "common/status/status.h"
#include "common/transport/broker_choice.h"
#include "common/transport/link_config.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::transport {

struct ProducerOptions {
  std::string endpoint;   // this host's endpoint name; the source is "<endpoint>/<component>"
  std::string component;  // "collector", "logwatch", "alerter", "cli"
  LinkConfig link;
  std::chrono::milliseconds resend_timeout{2000};
  std::chrono::milliseconds failover_after{5000};
  // While records are being appended, the spool is fdatasynced this often: a power loss (not a
  // process crash: every append is in the kernel before Publish returns) can cost the spool up to
  // this interval's appends. A producer that publishes a few times a minute (the collector) may
  // lengthen it: each sync is a journal commit on the host's disk and most of an idle agent's CPU.
  std::chrono::milliseconds spool_sync_interval{1000};
  uint64_t spool_segment_bytes = 8ull << 20;
  // Run the naming validator before spooling (a bad envelope is refused here).
  bool validate = true;
  // The link's timers (resend, failover, failback, spool sync, heartbeats) read this clock's
  // monotonic time; nullptr: the real one. A test's FakeClock must outlive the link.
  const hw::Clock* clock = nullptr;
};

struct ProducerStats {
  uint64_t published = 0;      // envelopes accepted by Publish
  uint64_t acked = 0;          // envelopes acked OK
  uint64_t rejected = 0;       // envelopes the broker REJECTED (dropped)
  uint64_t resent = 0;         // envelopes sent more than once
  uint64_t heartbeats = 0;     // heartbeats sent (only after heartbeat.h's idle time)
  uint64_t spool_records = 0;  // waiting in the spool
  uint64_t spool_bytes = 0;
  uint64_t spool_dropped = 0;  // dropped because the spool was full (never silent: logged too)
  uint64_t epoch = 0;
  uint64_t last_acked_seq = 0;
  std::string broker;  // the frontend in use
};

class ProducerLink {
 public:
  // Opens (and recovers) the spool under options.link.spool_dir, then starts the link thread, which
  // resends whatever the spool still holds.
  static Result<std::unique_ptr<ProducerLink>> Start(const ProducerOptions& options);
  ~ProducerLink();  // Stop(0)

  // `body` must have exactly one body set (samples, events or alerts); source, epoch and seq are
  // the link's business and are ignored if set. sent_ms is set here. InvalidArgument when the body
  // fails the validator (nothing is spooled); an IoError when the spool cannot be written.
  Status Publish(const hostwatch::v1::Envelope& body);

  // Publish for a body that is already serialized: the bytes of an Envelope with exactly one body
  // and no source, epoch or seq (sent_ms is appended here). For generators that encode their
  // samples directly (hostwatch loadgen); validated like Publish unless options.validate is off.
  Status PublishSerialized(std::string bytes);

  // Blocks until everything published before the call is acked (or rejected), or the deadline.
  bool WaitAcked(std::chrono::milliseconds deadline);

  // Sends what it can until the deadline, then stops the thread. What is not acked stays spooled
  // and is resent by the next Start on the same spool_dir.
  void Stop(std::chrono::milliseconds flush_deadline);

  ProducerStats stats() const;
  std::string source() const;

 private:
  struct Impl;
  explicit ProducerLink(std::unique_ptr<Impl> impl);
  Status SpoolAndWake(const std::string& bytes);  // validate, size check, append, wake the thread
  std::unique_ptr<Impl> impl_;
};

// PreferredBroker (which broker a host starts on): common/transport/broker_choice.h.

}  // namespace hw::transport
