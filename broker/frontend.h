// The broker's frontend thread: producers' envelopes in, acks out (docs/wire_format.md §4,
// docs/broker.md).
//
// Per drained batch of messages: parse each envelope's header, judge it against the dedup table
// (append / duplicate / gap), validate what is to be appended (one validator, common/naming),
// append per partition with one write, fsync when `fsync: always`, then ack (coalesced per
// producer) and republish on the tap. Also runs the periodic work that touches the journal's write
// side: fsync (`interval`), retention, dedup expiry and snapshots, and the broker's own samples,
// each when due on the injected clock (hw::Clock; monotonic for "is it due", wall for stamps and
// for what retention and source_ttl find old).
//
// Threads: constructed on the main thread (binds there, so errors reach Start()), then Run() on its
// own thread; the sockets belong to that thread from then on.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <zmq.hpp>

#include "broker/broker_config.h"
#include "broker/broker_state.h"
#include "broker/source_table.h"
#include "common/base/clock.h"
#include "common/status/status.h"

namespace hw::broker {

// Closes every connection accepted on a bound endpoint and binds it again (ResetConnections).
void Rebind(zmq::socket_t& socket, const std::string& endpoint);

// The liveness options of the broker's ROUTERs (common/transport/heartbeat.h): no ZMTP heartbeats
// (the links heartbeat themselves, only when idle; libzmq still answers an older peer's PINGs),
// and TCP keepalive, so that the kernel finds peers whose host died while they were idle.
void ApplyRouterLivenessOptions(zmq::socket_t& socket);

class Frontend {
 public:
  Frontend(const BrokerConfig& config, zmq::context_t& ctx, Journal& journal, SourceTable table,
           BrokerCounters& counters, ProducerBoard& board, const Clock& clock = RealClock());
  ~Frontend();
  // Binds the frontend ROUTER and the tap PUB, and connects the notifier to the backend.
  Status Bind(const std::string& notify_endpoint);
  void Run(std::stop_token stop);
  // Asks Run's thread to close every live connection of its sockets (unbind, bind again) at its
  // next turn; safe from any thread. After a key was revoked.
  void ResetConnections();
  // Final fsync and dedup snapshot; call after Run returned.
  Status Flush();
  // Hot reload of the settings that may change without a restart.
  void SetFsync(const std::string& mode, std::chrono::milliseconds interval);
  // One turn of the periodic work Run() does after every poll: each job runs when it is due on
  // the clock. Run's thread only. Public as the test seam: a test drives it on a FakeClock
  // without binding or polling any socket (broker_periodic_test.cc).
  void PeriodicWork();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::broker
