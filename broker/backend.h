// The broker's backend thread: consumer groups over the backend ROUTER (docs/broker.md, "Consumer
// groups"), and Stats.
//
// Wakes on consumer requests, on the frontend's "new records" ping, and every 100 ms for expiry and
// saving commits; that periodic work reads the injected clock (hw::Clock). Deliveries are read
// from the journal partitions (concurrently with the frontend's
// appends) and sent as two frames: [ConsumerMessage{delivery}, envelope bytes as stored].
//
// Threads: constructed and bound on the main thread, then Run() on its own thread.
#pragma once

#include <memory>
#include <stop_token>
#include <string>
#include <zmq.hpp>

#include "broker/broker_config.h"
#include "broker/broker_state.h"
#include "common/base/clock.h"
#include "common/status/status.h"

namespace hw::broker {

class Backend {
 public:
  Backend(const BrokerConfig& config, zmq::context_t& ctx, Journal& journal,
          BrokerCounters& counters, ProducerBoard& board, const Clock& clock = RealClock());
  ~Backend();
  // Loads committed offsets from data_dir/groups/, binds the backend ROUTER and the notify PAIR.
  Status Bind(const std::string& notify_endpoint);
  void Run(std::stop_token stop);
  // Asks Run's thread to close every live connection of its sockets (unbind, bind again) at its
  // next turn; safe from any thread. After a key was revoked.
  void ResetConnections();
  // Saves committed offsets; call after Run returned.
  Status Flush();
  // One turn of the periodic work Run() does after every poll: member expiry and group_ttl expiry
  // (every 500 ms of the clock), deliveries, and saving commits (every 200 ms). Run's thread only.
  // Public as the test seam: a test drives it on a FakeClock without polling
  // (broker_periodic_test.cc).
  void PeriodicWork();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::broker
