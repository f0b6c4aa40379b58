// FakeBroker: a broker in a thread of the test process, for the link tests. It serves a frontend
// (docs/wire_format.md §4: envelopes in, acks out, the producer link's side), a backend (§5: one
// consumer group reading an in-memory journal, the consumer link's side), or both, with the rules
// the links rely on and switches to misbehave on purpose. The real broker is tested with the real
// links in tests/integration; this one makes the links' own tests fast and deterministic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/base/mutex.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::testing {

// A journal record: an envelope's bytes as the producer link sent them (header then body).
struct FakeRecord {
  std::string bytes;
  hostwatch::v1::Topic topic = hostwatch::v1::SAMPLES;
};

// What a broker keeps across a restart: the partitions (offset = index + 1) and the group's
// commits.
struct FakeJournal {
  std::vector<std::vector<FakeRecord>> partitions;
  std::map<uint32_t, uint64_t> committed;
};

// What the frontend appended for a source, in order.
struct FakeAppended {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  double value = 0;  // the first sample's value: the test's own numbering
};

struct FakeBrokerOptions {
  uint16_t frontend_port = 0;  // 0: no frontend
  uint16_t backend_port = 0;   // 0: no backend
  // Z85; set: both sockets are CURVE servers (no ZAP handler: any client key is let in).
  std::string curve_secret_key;
  // Backend misbehaviour: after delivering offset o with o % k == 0, deliver o-1 and o again.
  uint64_t redeliver_every = 0;
  // Backend misbehaviour: the first n Subscribe requests vanish, as on a connection torn mid-way.
  int lose_subscribes = 0;
  // Backend: no error for a heartbeat from an unknown member.
  bool quiet = false;
};

// A frontend only, on port; a backend only, on port (opts' ports are replaced).
FakeBrokerOptions FakeFrontend(uint16_t port, std::string curve_secret_key = "");
FakeBrokerOptions FakeBackend(uint16_t port, FakeBrokerOptions opts = {});

// The frontend applies go-back-N (a duplicate is acked with the last seq, a gap answered GAP), acks
// a run of envelopes from one peer and stream with one ack, and answers REJECTED to envelopes whose
// first metric starts with "poison". Its dedup table survives Stop()/Start(), as the real broker's
// does across restarts.
//
// The backend serves one group: Subscribe -> rebalance (members sorted by id, partition p to member
// p % n) and an Assignment to every member; deliveries resume at committed + 1 on (re)assignment,
// never beyond the credit granted; topics filtered; cumulative commits; members silent for 5 s
// dropped; heartbeats from unknown members answered with an error; Stats answered with the
// BrokerStats given to SetStats.
class FakeBroker {
 public:
  explicit FakeBroker(FakeBrokerOptions opts, FakeJournal journal = {});
  ~FakeBroker();
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  std::string frontend() const;  // "tcp://127.0.0.1:<frontend_port>"
  std::string backend() const;   // "tcp://127.0.0.1:<backend_port>"

  // Binds (retrying briefly: a port just closed may linger) and starts serving.
  bool Start();
  void Stop();

  // ---- frontend ----
  // The envelope with this seq is dropped once, as if lost on the way.
  void DropOnce(uint64_t seq);
  std::vector<FakeAppended> appended(const std::string& source) const;
  size_t appended_count(const std::string& source) const;
  uint64_t gaps() const;

  // ---- backend ----
  FakeJournal journal() const;
  std::map<uint32_t, uint64_t> committed() const;
  std::vector<hostwatch::v1::Subscribe> subscribes() const;
  void SetStats(const hostwatch::v1::BrokerStats& s);
  void Append(uint32_t partition, FakeRecord r);
  // Forgets every member without telling them, as an expiry would.
  void ForgetMembers();
  uint64_t delivered() const { return delivered_; }
  // The link may give back only credit it used: Credit sums never exceed what was sent.
  uint64_t over_grants() const { return over_grants_; }
  uint64_t leaves() const { return leaves_; }
  uint64_t heartbeats() const { return heartbeats_; }  // Heartbeat requests received
  uint64_t max_in_flight() const { return max_in_flight_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Member {
    std::set<int> topics;  // empty: all
    uint64_t credit = 0;
    uint64_t granted = 0;  // by Credit messages in this subscription
    uint64_t sent = 0;     // in this subscription
    uint64_t initial = 0;
    Clock::time_point last_seen;
    std::vector<uint32_t> partitions;
  };

  void* Bind(uint16_t port, bool backend);
  void Run(void* frontend, void* backend);
  // Frontend: answers one frame; nullopt: no answer (unparsable, or dropped on purpose).
  std::optional<hostwatch::v1::Ack> HandleEnvelope(const std::string& frame);
  void HandleFrontend(void* sock);
  // Backend.
  void Send(void* sock, const std::string& id, const hostwatch::v1::ConsumerMessage& m,
            const std::string* body = nullptr);
  void Rebalance(void* sock) REQUIRES(mu_);
  void HandleRequests(void* sock);
  // Returns true when it stopped with credit and records left (call again without waiting).
  bool Deliver(void* sock);

  const FakeBrokerOptions opts_;
  void* ctx_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> over_grants_{0};
  std::atomic<uint64_t> leaves_{0};
  std::atomic<uint64_t> heartbeats_{0};
  std::atomic<uint64_t> max_in_flight_{0};

  mutable Mutex mu_;
  // Frontend.
  std::map<std::string, std::map<uint64_t, uint64_t>> last_ GUARDED_BY(mu_);
  std::map<std::string, std::vector<FakeAppended>> appended_ GUARDED_BY(mu_);
  std::optional<uint64_t> drop_once_ GUARDED_BY(mu_);
  uint64_t gaps_ GUARDED_BY(mu_) = 0;
  // Backend.
  FakeJournal journal_ GUARDED_BY(mu_);
  hostwatch::v1::BrokerStats stats_ GUARDED_BY(mu_);
  std::vector<hostwatch::v1::Subscribe> subscribes_ GUARDED_BY(mu_);
  std::map<std::string, Member> members_ GUARDED_BY(mu_);
  std::map<uint32_t, std::string> owner_ GUARDED_BY(mu_);
  std::map<uint32_t, uint64_t> cursor_ GUARDED_BY(mu_);
  std::set<std::pair<uint32_t, uint64_t>> redelivered_ GUARDED_BY(mu_);
  std::string group_ GUARDED_BY(mu_);
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  int lost_subscribes_ GUARDED_BY(mu_) = 0;
};

}  // namespace hw::testing
