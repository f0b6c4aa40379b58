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
  BatchPlan Plan(const std::vector<transport::Delivery>& batch);
  // The second pipeline: the writes of the events whose check in `main_replies` found nothing.
  Pipeline EventWrites(const BatchPlan& plan, const std::vector<Reply>& main_replies) const;
  // Registry and latest values of every known host, from the own copy.
  Pipeline RewriteAll() const;
  // Forgets hosts not seen for host_ttl (by their data's time) and removes them from <p>hosts
  // (their own keys expire by themselves: every write sets their TTL).
  Pipeline Expire(int64_t now_ms);

  size_t hosts() const { return hosts_.size(); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct HostCopy {
    int64_t first_seen = 0, last_seen = 0;  // first_seen 0: not yet set
    std::map<std::string, std::string, std::less<>> tags;
    std::set<std::string, std::less<>> sources;
    std::string tags_json = "{}", sources_json = "[]";  // rebuilt only when those change
    struct Latest {
      int64_t time_ms = 0;
      double value = 0;
      uint64_t batch = 0;  // the Plan that last changed it (so each goes into one HSET once)
    };
    // series -> (looked up by string_view: no key copy unless the series is new)
    std::unordered_map<std::string, Latest, StringHash, std::equal_to<>> latest;
    uint64_t batch = 0;  // the Plan that last touched the host
    size_t work = 0;     // its index in work_ during that Plan
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
  void AddHostCommands(const std::string& endpoint, const HostCopy& host, bool rewrite,
                       Pipeline* out) const;

  WriterOptions options_;
  KeySchema keys_;
  std::string ttl_;     // host_ttl_ms as text
  std::string maxlen_;  // events_maxlen as text
  std::string trim_;    // the ZREMRANGEBYRANK stop that keeps history_points
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
