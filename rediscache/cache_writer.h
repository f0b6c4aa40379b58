// What the cacher writes, as pipelines of argv commands: pure logic, no I/O (cache_sink.h runs
// the pipelines). It also keeps the cacher's own copy of the host registry and latest values, so a
// Redis that came back empty gets them rewritten at once (RewriteAll), not only as hosts send
// again.
//
// Idempotence (a replay after a restart repeats the uncommitted tail):
//  - latest and registry: HSET/ZADD GT of the same values; a value older than the copy's is
//  skipped.
//  - history: ZADD of the member "<time_ms>:<value>", which a replay writes again unchanged.
//  - per-endpoint event streams and the alert log: XADD with an id made from the envelope's sent_ms
//    and seq (ReplayStableStreamId), which Redis refuses the second time.
//  - the fleet stream <p>events gets entries from every host, so its ids cannot be the producers':
//    the first pipeline checks (XRANGE) whether the endpoint's stream already has the event, and a
//    second pipeline adds it to both streams (fleet first) only when it does not. Batches without
//    events take one round trip, batches with events two.
//
// Not thread-safe: the sink thread owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/naming/sample_wire.h"
#include "common/transport/consumer_link.h"
#include "rediscache/key_schema.h"
#include "rediscache/redis_client.h"

namespace hw::rediscache {

struct WriterOptions {
  std::string prefix = "hw:";
  uint32_t history_points = 60;
  std::vector<std::string> history_metrics;
  uint32_t events_maxlen = 1000;
  int64_t host_ttl_ms = 7ll * 24 * 3600 * 1000;
};

struct BatchPlan {
  Pipeline main;
  struct EventWrite {
    size_t check;  // index in main of the XRANGE that tells whether the event is there already
    Pipeline writes;
  };
  std::vector<EventWrite> events;
  uint64_t samples = 0, event_count = 0, alerts = 0, skipped_old = 0;
  uint64_t malformed = 0;  // deliveries whose bytes did not parse: nothing written for them
};

class CacheWriter {
 public:
  explicit CacheWriter(WriterOptions options);
  void SetOptions(WriterOptions options);
  const KeySchema& keys() const { return keys_; }

  // Plans the writes for a batch of deliveries and updates the own copy. A delivery is read from
  // its wire bytes (Delivery::body) when it has them, else from its parsed envelope. Samples are
  // read from the bytes without a protobuf parse (common/naming/sample_wire.h); an envelope of
  // another shape, and events and alerts, get the full parse.
  //
  // `now_ms` (any monotonic clock) paces the PEXPIREs that keep each key's TTL at host_ttl: one
  // per key per refresh interval (a tenth of host_ttl, at most a minute) instead of one per batch;
  // 0 sends them with every batch.
  BatchPlan Plan(const std::vector<transport::Delivery>& batch, int64_t now_ms = 0);
  // The second pipeline: the writes of the events whose check in `main_replies` found nothing.
  Pipeline EventWrites(const BatchPlan& plan, const std::vector<Reply>& main_replies) const;
  // Registry and latest values of every known host, from the own copy, with their TTLs; the TTLs
  // of the other keys are sent again with the next batch that writes them.
  Pipeline RewriteAll();
  // Forgets hosts not seen for host_ttl (by their data's time) and removes them from <p>hosts
  // (their own keys expire by themselves: every write sets their TTL).
  Pipeline Expire(int64_t now_ms);

  size_t hosts() const { return hosts_.size(); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // When a key's PEXPIRE was last planned (Plan's now_ms) and in which expiry epoch (RewriteAll
  // starts a new one: a restarted Redis has no TTLs).
  struct Expiry {
    int64_t sent_ms = 0;
    uint64_t epoch = 0;  // 0: never
  };
  struct HostCopy {
    int64_t first_seen = 0, last_seen = 0;  // first_seen 0: not yet set
    bool first_seen_due = true;  // new to this process: HSETNX first_seen (Redis may know better)
    Expiry host_expiry, latest_expiry;
    std::map<std::string, std::string, std::less<>> tags;
    std::set<std::string, std::less<>> sources;
    std::string tags_json = "{}", sources_json = "[]";  // rebuilt only when those change
    struct Latest {
      int64_t time_ms = 0;
      double value = 0;
      uint64_t batch = 0;  // the Plan that last changed it (so each goes into one HSET once)
      Expiry history_expiry;
    };
    // series -> (looked up by string_view: no key copy unless the series is new)
    std::unordered_map<std::string, Latest, StringHash, std::equal_to<>> latest;
    uint64_t batch = 0;  // the Plan that last touched the host
    size_t work = 0;     // its index in work_ during that Plan
    // The series of its last samples envelope in their order: a host sends the same series in the
    // same order every time, so most samples find their node here without hashing their name.
    std::vector<std::pair<const std::string, Latest>*> order;
  };
  using HostMap = std::unordered_map<std::string, HostCopy, StringHash, std::equal_to<>>;
  // What one Plan does to one endpoint. Kept across Plans (cleared, not freed) so that a batch
  // allocates nothing for the vectors it fills again.
  struct EndpointWork {
    HostMap::value_type* host = nullptr;  // a node of hosts_: stays put while the batch is planned
    std::vector<std::pair<const std::string, HostCopy::Latest>*> latest;  // changed by this batch
    struct Point {
      const std::string* series;  // the key of its node in the host's `latest`
      int64_t time_ms;
      double value;
    };
    std::vector<Point> history;
    std::vector<std::pair<std::string, std::vector<std::string>>> events;  // id, fields
  };
  bool HistoryWanted(std::string_view metric);
  EndpointWork& WorkFor(HostMap::value_type* host);
  // False when the samples are not of the shape sample_wire reads (nothing counted; what was
  // already applied to the own copy is idempotent when the caller reads the batch again).
  bool PlanSamples(const naming::EnvelopeWire& header, BatchPlan* plan);
  void PlanOther(const hostwatch::v1::Envelope& env, BatchPlan* plan);
  void TouchHost(HostMap::value_type* host, std::string_view source, int64_t newest,
                 const naming::TagView* tags, size_t tag_count);
  void FinishPlan(BatchPlan* plan);
  void AddHostCommands(const std::string& endpoint, HostCopy& host, bool rewrite, Pipeline* out);
  // Whether the key's PEXPIRE is due (and then marks it sent).
  bool ExpiryDue(Expiry* e);

  WriterOptions options_;
  KeySchema keys_;
  std::string ttl_;     // host_ttl_ms as text
  std::string maxlen_;  // events_maxlen as text
  std::string trim_;    // the ZREMRANGEBYRANK stop that keeps history_points
  int64_t refresh_ms_ = 0;
  int64_t now_ms_ = 0;  // of the Plan being made
  uint64_t expiry_epoch_ = 1;
  HostMap hosts_;
  uint64_t batch_ = 0;  // Plan calls so far
  std::vector<EndpointWork> work_;
  size_t work_used_ = 0;
  // Reused per sample and per delivery.
  naming::SamplesWire wire_;
  naming::SampleView sample_;
  std::string series_, canonical_;
  std::unordered_map<std::string, bool, StringHash, std::equal_to<>>
      history_match_;  // metric -> in history.metrics
};

}  // namespace hw::rediscache
