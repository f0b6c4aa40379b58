// The hostwatch-graphite Sink (graphite/README.md): samples -> carbon plaintext lines -> the
// destinations carbon's ring (or relay_method: all) picks -> each destination's settle or spool.
//
// A delivery is finished (and so may be committed) once every destination that got lines of it
// has settled or spooled them, and its alerts (if graphite events are on) were posted. A delivery
// with nothing to send (only non-finite values or unsendable names, counted) finishes at once.
//
// Threads: everything runs on the kit's sink thread except Reconfigure (any thread; applied at the
// next Tick) and AppendMetrics (the main thread; reads atomics only).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/mutex.h"
#include "common/consumer/consumer_kit.h"
#include "graphite/carbon_naming.h"
#include "graphite/destination.h"
#include "graphite/graphite_events.h"
#include "graphite/hash_ring.h"

namespace hw::graphite {

struct GraphiteOptions {
  std::vector<CarbonDestination> destinations;
  bool relay_all = false;  // relay_method: all
  HashType hash = HashType::kCarbonCh;
  uint32_t replication = 1;
  bool diverse_replicas = true;
  NamingOptions naming;
  std::chrono::milliseconds settle{2000};
  std::string spool_dir = "./hostwatch-data/spool/graphite-out";
  uint64_t spool_max_bytes = 1ull << 30;  // per destination
  std::string graphite_web_url;           // empty: alerts are not posted as events
  std::chrono::milliseconds backoff_max{30000};
};

// The spool folder of one destination under spool_dir: "127.0.0.1_2003_a".
std::string DestinationSpoolName(const CarbonDestination& d);

class GraphiteSink : public consumer::Sink {
 public:
  explicit GraphiteSink(GraphiteOptions options);
  ~GraphiteSink() override;

  Status Open() override;
  void Consume(std::vector<consumer::Delivery> batch, consumer::Finisher& finisher) override;
  void Tick(std::chrono::steady_clock::time_point now, consumer::Finisher& finisher) override;
  std::chrono::milliseconds TickInterval() const override;
  void Close(consumer::Finisher& finisher) override;
  void AppendMetrics(consumer::MetricOut out) override;

  // SIGHUP: the new options take effect at the sink thread's next Consume or Tick. Destinations
  // that stay keep their connection and queue; removed ones spool what they hold; new ones start
  // empty.
  void Reconfigure(GraphiteOptions options);

 private:
  struct Ticket {
    consumer::DeliveryId id;
    uint32_t remaining = 0;  // destination parts and event posts not yet done
  };
  struct DestinationSlot {
    std::shared_ptr<Destination> dest;
    std::string name;  // "127.0.0.1:2003:a", the self-metrics tag
  };

  Status BuildDestinations(const GraphiteOptions& options, std::vector<DestinationSlot>* out);
  void ApplyPending(std::vector<uint64_t>* done);
  void AddSamples(const consumer::Delivery& d, uint64_t ticket, uint32_t* parts);
  // Pumps every destination; with wait, first waits (poll) up to `wait` for socket readiness.
  void PumpAll(std::chrono::milliseconds wait, std::vector<uint64_t>* done);
  void FinishTickets(const std::vector<uint64_t>& done, consumer::Finisher& finisher);
  uint64_t UnwrittenConnectedBytes() const;
  void PublishView();

  GraphiteOptions options_;  // sink thread
  std::unique_ptr<HashRing> ring_;
  std::vector<DestinationSlot> dests_;
  std::shared_ptr<GraphiteEvents> events_;
  std::vector<std::shared_ptr<GraphiteEvents>> retired_events_;  // replaced by a reload
  std::unordered_map<uint64_t, Ticket> tickets_;
  uint64_t next_ticket_ = 1;
  // Scratch, reused per delivery.
  std::vector<std::string> per_dest_;
  std::vector<uint64_t> per_dest_lines_;
  std::vector<size_t> placement_;
  std::string name_, line_;

  mutable Mutex mu_;
  std::optional<GraphiteOptions> reconfigure_ GUARDED_BY(mu_);
  // The destinations as AppendMetrics (main thread) sees them; replaced on reload. Their stats
  // are atomics, so only the list needs the lock.
  std::vector<DestinationSlot> metric_view_ GUARDED_BY(mu_);
  std::shared_ptr<GraphiteEvents> events_view_ GUARDED_BY(mu_);

  std::atomic<uint64_t> samples_{0}, lines_{0}, skipped_nonfinite_{0}, skipped_unsendable_{0},
      alerts_{0}, reloads_{0};
};

}  // namespace hw::graphite
