// The consumer kit; the rules are in consumer_kit.h.
#include "common/consumer/consumer_kit.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <map>
#include <thread>

#include "common/base/mutex.h"
#include "common/consumer/commit_tracker.h"
#include "common/daemon/logging.h"
#include "common/naming/naming.h"

namespace hw::consumer {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using hostwatch::v1::Sample;
using hostwatch::v1::Subscribe;

namespace {

// The link thread's longest sleep: the commit of a finished delivery waits at most this long, and
// so does a stop.
constexpr auto kLinkPoll = 50ms;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Whether `group` has a commit on any broker that answered; nullopt when none answered.
std::optional<bool> GroupKnown(const KitOptions& o) {
  std::optional<bool> known;
  for (size_t i = 0; i < o.link.brokers.size(); ++i) {
    Result<std::string> backend = o.link.BackendFor(i);
    if (!backend.ok()) continue;
    Result<hostwatch::v1::BrokerStats> stats =
        transport::QueryBrokerStats(*backend, o.link.curve, o.start_query_timeout);
    if (!stats.ok()) {
      spdlog::warn("consumer: cannot ask {} where group {} stands: {}", *backend, o.link.group,
                   stats.status().ToString());
      continue;
    }
    known = known.value_or(false);
    for (const auto& g : stats->groups()) {
      if (g.group() != o.link.group) continue;
      for (const auto& p : g.partitions()) {
        if (p.committed() > 0) known = true;
      }
    }
  }
  return known;
}

}  // namespace

void MetricOut::Gauge(const std::string& metric, double value,
                      std::map<std::string, std::string> tags) {
  Sample& s = samples->emplace_back();
  s.set_metric(metric);
  s.set_value(value);
  for (auto& [k, v] : tags) (*s.mutable_tags())[k] = v;
}

void MetricOut::Counter(const std::string& metric, uint64_t value,
                        std::map<std::string, std::string> tags) {
  Gauge(metric, static_cast<double>(value), std::move(tags));
  samples->back().set_kind(Sample::COUNTER);
}

struct ConsumerKit::Impl final : Finisher {
  KitOptions options;
  std::unique_ptr<Sink> sink;
  std::unique_ptr<transport::ProducerLink> producer;
  std::unique_ptr<transport::ConsumerLink> link;  // the link thread's, once started
  std::string start_used = "committed";
  std::thread link_thread, sink_thread;
  std::atomic<bool> taking{true};
  Clock::time_point next_metrics{};

  // Link thread only.
  CommitTracker tracker;
  std::map<std::pair<size_t, uint32_t>, std::deque<std::pair<uint64_t, Clock::time_point>>> handed;
  std::vector<std::vector<uint32_t>> assigned;
  daemon::RepeatLimiter poll_log{std::chrono::seconds(30)};
  daemon::RepeatLimiter commit_log{std::chrono::seconds(30)};

  mutable Mutex mu;
  CondVar sink_cv;  // work for the sink, or stop
  CondVar link_cv;  // finished deliveries for the link thread, or stop
  std::deque<std::vector<Delivery>> queue GUARDED_BY(mu);
  std::vector<DeliveryId> finished GUARDED_BY(mu);
  bool stop_sink GUARDED_BY(mu) = false;
  bool stop_link GUARDED_BY(mu) = false;
  bool sink_exited GUARDED_BY(mu) = false;
  bool link_exited GUARDED_BY(mu) = false;
  Clock::time_point sink_busy_since GUARDED_BY(mu){};  // zero while between calls
  KitStats stats GUARDED_BY(mu);

  void Finish(std::span<const DeliveryId> done) override {
    MutexLock lock(&mu);
    finished.insert(finished.end(), done.begin(), done.end());
    link_cv.Signal();
  }

  // ---- link thread ----

  void RunLink() {
    for (;;) {
      bool batch_waiting = false;
      {
        MutexLock lock(&mu);
        if (stop_link) break;
        batch_waiting = !queue.empty();
      }
      CommitFinished();
      const bool over_budget = tracker.outstanding_bytes() >= options.max_inflight_bytes || !taking;
      if (over_budget || batch_waiting) {
        // Take nothing, but keep the membership alive (heartbeats, housekeeping). Over budget:
        // the link gives no credit back, so the broker stops sending. A batch waiting for the
        // sink: what arrives meanwhile stays in the socket and is taken as one batch once the
        // sink takes this one, instead of waking this thread for every few envelopes (each
        // wake-up a poll here and an eventfd write on ZeroMQ's I/O thread: with a backlog that
        // was most of the link's CPU, bench/alerter.sh).
        (void)link->Poll(0ms, 0);
        MutexLock lock(&mu);
        if (over_budget) ++stats.backpressure_waits;
        if (finished.empty() && !stop_link && (over_budget || !queue.empty()))
          link_cv.WaitUntil(&mu, Clock::now() + kLinkPoll);
        continue;
      }
      Result<std::vector<Delivery>> got = link->Poll(kLinkPoll, options.max_batch);
      if (!got.ok()) {
        if (auto n = poll_log.Allow())
          spdlog::warn("consumer link: {} ({} more since)", got.status().ToString(), *n);
        MutexLock lock(&mu);
        link_cv.WaitUntil(&mu, Clock::now() + kLinkPoll);
        continue;
      }
      TrackAssignments();
      if (got->empty()) continue;
      Hand(std::move(*got));
    }
    CommitFinished();
    MutexLock lock(&mu);
    link_exited = true;
  }

  void Hand(std::vector<Delivery> batch) {
    const Clock::time_point now = Clock::now();
    int64_t newest_sent = 0;
    for (const Delivery& d : batch) {
      const size_t bytes = d.body.empty() ? d.envelope.ByteSizeLong() : d.body.size();
      tracker.Delivered(d.broker, d.partition, d.offset, bytes + 64);
      auto& h = handed[{d.broker, d.partition}];
      if (h.empty() || h.back().first < d.offset) h.emplace_back(d.offset, now);
      newest_sent = std::max<int64_t>(newest_sent, d.envelope.sent_ms());
    }
    const transport::ConsumerStats& ls = link->stats();
    MutexLock lock(&mu);
    stats.deliveries += batch.size();
    stats.duplicates = ls.duplicates;
    stats.malformed = ls.malformed;
    if (newest_sent > 0) stats.lag_s = std::max(0.0, (WallMs() - newest_sent) / 1000.0);
    queue.push_back(std::move(batch));
    stats.waiting_batches = queue.size();
    stats.inflight_bytes = tracker.outstanding_bytes();
    stats.inflight = tracker.outstanding();
    sink_cv.Signal();
  }

  void TrackAssignments() {
    std::vector<std::vector<uint32_t>> now = link->assignments();
    if (now == assigned) return;
    for (size_t b = 0; b < assigned.size(); ++b) {
      for (uint32_t p : assigned[b]) {
        const bool kept =
            b < now.size() && std::find(now[b].begin(), now[b].end(), p) != now[b].end();
        if (!kept) {
          tracker.Drop(b, p);  // its new owner repeats what we had not committed
          handed.erase({b, p});
        }
      }
    }
    assigned = std::move(now);
  }

  void CommitFinished() {
    std::vector<DeliveryId> done;
    {
      MutexLock lock(&mu);
      done.swap(finished);
    }
    if (done.empty()) return;
    for (const DeliveryId& id : done) tracker.Finished(id.broker, id.partition, id.offset);
    std::vector<CommitPoint> ready = tracker.TakeReady();
    std::vector<Delivery> commits;
    const Clock::time_point now = Clock::now();
    double latency_ms = -1;
    for (const CommitPoint& c : ready) {
      Delivery d;
      d.broker = c.broker;
      d.partition = c.partition;
      d.offset = c.offset;
      commits.push_back(std::move(d));
      auto it = handed.find({c.broker, c.partition});
      if (it == handed.end()) continue;
      auto& h = it->second;
      while (!h.empty() && h.front().first <= c.offset) {
        latency_ms = std::max(
            latency_ms, std::chrono::duration<double, std::milli>(now - h.front().second).count());
        h.pop_front();
      }
    }
    Status s = commits.empty() ? Status::Ok() : link->Commit(commits);
    if (!s.ok()) {
      if (auto k = commit_log.Allow())
        spdlog::warn("consumer: commit: {} ({} more since)", s.ToString(), *k);
    }
    MutexLock lock(&mu);
    stats.finished += done.size();
    if (!commits.empty()) ++stats.commits;
    if (!s.ok()) ++stats.commit_errors;
    if (latency_ms >= 0) stats.commit_latency_ms = latency_ms;
    stats.inflight_bytes = tracker.outstanding_bytes();
    stats.inflight = tracker.outstanding();
  }

  // ---- sink thread ----

  void RunSink() {
    Clock::time_point next_tick = Clock::now() + sink->TickInterval();
    for (;;) {
      std::vector<Delivery> batch;
      bool have = false;
      {
        MutexLock lock(&mu);
        while (!stop_sink && queue.empty() && Clock::now() < next_tick)
          sink_cv.WaitUntil(&mu, next_tick);
        if (stop_sink) break;
        if (!queue.empty()) {
          batch = std::move(queue.front());
          queue.pop_front();
          have = true;
          stats.waiting_batches = queue.size();
          if (queue.empty()) link_cv.Signal();  // the link thread may take the next batch
        }
        sink_busy_since = Clock::now();
      }
      if (have) sink->Consume(std::move(batch), *this);
      const Clock::time_point now = Clock::now();
      sink->Tick(now, *this);
      next_tick = now + sink->TickInterval();
      MutexLock lock(&mu);
      sink_busy_since = Clock::time_point{};
    }
    {
      MutexLock lock(&mu);
      sink_busy_since = Clock::now();
    }
    sink->Close(*this);
    MutexLock lock(&mu);
    sink_busy_since = Clock::time_point{};
    sink_exited = true;
    link_cv.Signal();
  }

  void PublishMetrics() {
    if (producer == nullptr) return;
    const KitStats s = [&] {
      MutexLock lock(&mu);
      return stats;
    }();
    std::vector<Sample> samples;
    MetricOut out{&samples};
    const std::string p = "hostwatch." + options.component + ".";
    out.Counter(p + "deliveries", s.deliveries);
    out.Counter(p + "duplicates", s.duplicates);
    out.Counter(p + "malformed", s.malformed);
    out.Counter(p + "commits", s.commits);
    out.Counter(p + "commit_errors", s.commit_errors);
    out.Gauge(p + "lag_s", s.lag_s);
    out.Gauge(p + "inflight_bytes", static_cast<double>(s.inflight_bytes));
    out.Gauge(p + "waiting_batches", static_cast<double>(s.waiting_batches));
    out.Gauge(p + "commit_latency_ms", s.commit_latency_ms);
    const size_t own = samples.size();
    sink->AppendMetrics(MetricOut{&samples});
    for (size_t i = own; i < samples.size(); ++i) {
      Sample& x = samples[i];
      if (x.metric().rfind("hostwatch.", 0) != 0) x.set_metric(p + x.metric());
    }
    hostwatch::v1::Envelope env;
    auto* batch = env.mutable_samples();
    batch->set_endpoint(options.endpoint);
    const int64_t now = WallMs();
    const auto step =
        static_cast<uint32_t>(std::max<int64_t>(1, options.self_metrics_interval.count() / 1000));
    for (Sample& x : samples) {
      x.set_time_ms(now);
      x.set_step_s(step);
      *batch->add_samples() = std::move(x);
    }
    if (Status st = producer->Publish(env); !st.ok())
      spdlog::warn("consumer: self-metrics not published: {}", st.ToString());
  }
};

ConsumerKit::ConsumerKit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsumerKit::~ConsumerKit() { Stop(); }

Result<std::unique_ptr<ConsumerKit>> ConsumerKit::Create(KitOptions options,
                                                         std::unique_ptr<Sink> sink) {
  if (options.component.empty()) return Status::InvalidArgument("consumer kit: no component");
  if (sink == nullptr) return Status::InvalidArgument("consumer kit: no sink");
  if (options.link.group.empty()) options.link.group = options.component;
  if (options.link.start.empty()) options.link.start = "earliest";
  if (options.link.start != "earliest" && options.link.start != "latest")
    return Status::InvalidArgument("link.start must be earliest or latest");
  if (options.endpoint.empty()) options.endpoint = naming::LocalEndpoint();
  if (options.max_batch == 0 || options.credit == 0)
    return Status::InvalidArgument("consumer kit: max_batch and credit must be at least 1");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->sink = std::move(sink);
  return std::unique_ptr<ConsumerKit>(new ConsumerKit(std::move(impl)));
}

Status ConsumerKit::Start() {
  Impl& s = *impl_;
  const KitOptions& o = s.options;
  transport::ProducerOptions po;
  po.endpoint = o.endpoint;
  po.component = o.component;
  po.link = o.link;
  HW_ASSIGN_OR_RETURN(s.producer, transport::ProducerLink::Start(po));

  Subscribe::Start start = Subscribe::COMMITTED;
  if (o.link.start == "latest") {
    // A new group starts at the live end; a known group resumes after its commit. When no
    // broker answers, resuming is the safe side: skipping a known group's backlog would lose it.
    std::optional<bool> known = GroupKnown(o);
    if (known.has_value() && !*known) {
      start = Subscribe::LATEST;
      s.start_used = "latest";
    } else if (!known.has_value()) {
      spdlog::warn("consumer: no broker answered; group {} resumes after its commit, if any",
                   o.link.group);
    }
  } else {
    s.start_used = "committed";  // a group with no commit starts at the earliest record
  }

  transport::ConsumerOptions co;
  co.group = o.link.group;
  co.topics = o.topics;
  co.start = start;
  co.credit = o.credit;
  co.parse_bodies = !o.raw_bodies;
  co.keep_body = o.raw_bodies;
  co.link = o.link;
  HW_ASSIGN_OR_RETURN(s.link, transport::ConsumerLink::Connect(co));
  HW_RETURN_IF_ERROR(s.sink->Open());
  s.next_metrics = Clock::now() + o.self_metrics_interval;
  s.sink_thread = std::thread([&s] { s.RunSink(); });
  s.link_thread = std::thread([&s] { s.RunLink(); });
  spdlog::info("consumer {}: group {} (start: {}), {} broker(s)", o.component, o.link.group,
               s.start_used, o.link.brokers.size());
  return Status::Ok();
}

void ConsumerKit::Stop() {
  Impl& s = *impl_;
  s.taking = false;
  {
    MutexLock lock(&s.mu);
    s.stop_sink = true;
    s.sink_cv.SignalAll();
  }
  if (s.sink_thread.joinable()) s.sink_thread.join();
  {
    MutexLock lock(&s.mu);
    s.stop_link = true;
    s.link_cv.SignalAll();
  }
  if (s.link_thread.joinable()) s.link_thread.join();
  s.link.reset();
  if (s.producer != nullptr) s.producer->Stop(std::chrono::seconds(2));
}

Status ConsumerKit::Health() {
  Impl& s = *impl_;
  const Clock::time_point now = Clock::now();
  {
    MutexLock lock(&s.mu);
    if (!s.stop_sink && s.sink_exited) return Status::Internal("the sink thread exited");
    if (!s.stop_link && s.link_exited) return Status::Internal("the link thread exited");
    if (s.sink_busy_since != Clock::time_point{} && now - s.sink_busy_since > s.options.stall_after)
      return Status::DeadlineExceeded(
          "the " + s.options.component + " sink made no progress for " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::seconds>(now - s.sink_busy_since).count()) +
          "s");
  }
  if (now >= s.next_metrics) {
    s.next_metrics = now + s.options.self_metrics_interval;
    s.PublishMetrics();
  }
  return Status::Ok();
}

KitStats ConsumerKit::stats() const {
  MutexLock lock(&impl_->mu);
  return impl_->stats;
}

Sink& ConsumerKit::sink() { return *impl_->sink; }
transport::ProducerLink* ConsumerKit::producer() { return impl_->producer.get(); }
std::string ConsumerKit::start_used() const { return impl_->start_used; }

}  // namespace hw::consumer
