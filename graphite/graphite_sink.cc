#include "graphite/graphite_sink.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace hw::graphite {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Past this many bytes queued and not yet written to connected destinations, Consume waits for
// the sockets (on the sink's own thread) instead of taking more: memory stays bounded and the kit
// stops granting credit.
constexpr uint64_t kHighWaterBytes = 8ull << 20;
// How long a stop waits for alert events still queued for graphite-web.
constexpr std::chrono::milliseconds kEventDrain{5000};

}  // namespace

std::string DestinationSpoolName(const CarbonDestination& d) {
  std::string out;
  for (char c : d.server)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
  out += "_" + std::to_string(d.port);
  if (d.instance) out += "_" + SanitizePathComponent(*d.instance);
  return out;
}

GraphiteSink::GraphiteSink(GraphiteOptions options) : options_(std::move(options)) {}

GraphiteSink::~GraphiteSink() = default;

Status GraphiteSink::BuildDestinations(const GraphiteOptions& options,
                                       std::vector<DestinationSlot>* out) {
  std::vector<DestinationSlot> next;
  for (const CarbonDestination& address : options.destinations) {
    const std::string name = address.ToString();
    auto same = std::find_if(dests_.begin(), dests_.end(),
                             [&](const DestinationSlot& s) { return s.name == name; });
    if (same != dests_.end()) {
      same->dest->set_settle(options.settle);
      next.push_back(*same);
      continue;
    }
    DestinationOptions o;
    o.address = address;
    o.settle = options.settle;
    o.spool_dir = std::filesystem::path(options.spool_dir) / DestinationSpoolName(address);
    o.spool_max_bytes = options.spool_max_bytes;
    o.backoff_max = options.backoff_max;
    HW_ASSIGN_OR_RETURN(std::unique_ptr<Destination> d, Destination::Open(std::move(o)));
    next.push_back({std::shared_ptr<Destination>(std::move(d)), name});
  }
  *out = std::move(next);
  return Status::Ok();
}

void GraphiteSink::PublishView() {
  MutexLock lock(&mu_);
  metric_view_ = dests_;
  events_view_ = events_;
}

Status GraphiteSink::Open() {
  std::vector<DestinationSlot> built;
  HW_RETURN_IF_ERROR(BuildDestinations(options_, &built));
  dests_ = std::move(built);
  ring_ = std::make_unique<HashRing>(options_.hash, options_.destinations);
  if (!options_.graphite_web_url.empty())
    events_ = std::make_shared<GraphiteEvents>(options_.graphite_web_url, std::chrono::seconds(10));
  PublishView();
  return Status::Ok();
}

void GraphiteSink::Reconfigure(GraphiteOptions options) {
  MutexLock lock(&mu_);
  reconfigure_ = std::move(options);
}

void GraphiteSink::ApplyPending(std::vector<uint64_t>* done) {
  std::optional<GraphiteOptions> next;
  {
    MutexLock lock(&mu_);
    next.swap(reconfigure_);
  }
  if (!next) return;
  std::vector<DestinationSlot> built;
  if (Status s = BuildDestinations(*next, &built); !s.ok()) {
    spdlog::error("reload: keeping the running destinations: {}", s.ToString());
    return;
  }
  for (DestinationSlot& old : dests_) {
    auto kept = std::find_if(built.begin(), built.end(),
                             [&](const DestinationSlot& s) { return s.name == old.name; });
    if (kept == built.end()) {
      spdlog::info("reload: carbon {} removed; what it held stays in its spool", old.name);
      old.dest->SpoolAndClose(done);
    }
  }
  dests_ = std::move(built);
  ring_ = std::make_unique<HashRing>(next->hash, next->destinations);
  if (!next->graphite_web_url.empty() && next->graphite_web_url != options_.graphite_web_url) {
    // The old poster finishes what it holds (its tickets still count) and is then dropped.
    if (events_) retired_events_.push_back(events_);
    events_ = std::make_shared<GraphiteEvents>(next->graphite_web_url, std::chrono::seconds(10));
  }
  options_ = std::move(*next);
  ++reloads_;
  PublishView();
}

void GraphiteSink::AddSamples(const consumer::Delivery& d, uint64_t ticket, uint32_t* parts) {
  const hostwatch::v1::SampleBatch& batch = d.envelope.samples();
  const size_t n = dests_.size();
  per_dest_.resize(n);
  per_dest_lines_.assign(n, 0);
  for (std::string& s : per_dest_) s.clear();
  for (const hostwatch::v1::Sample& s : batch.samples()) {
    ++samples_;
    line_.clear();
    if (!std::isfinite(s.value())) {
      ++skipped_nonfinite_;
      continue;
    }
    if (CarbonName(options_.naming, batch.endpoint(), s, &name_) != LineVerdict::kOk) {
      ++skipped_unsendable_;
      continue;
    }
    (void)AppendCarbonLine(name_, s.value(), s.time_ms(), &line_);
    if (options_.relay_all || n == 1) {
      placement_.clear();
      for (size_t i = 0; i < n; ++i) placement_.push_back(i);
    } else {
      ring_->Place(name_, options_.replication, options_.diverse_replicas, &placement_);
    }
    for (size_t i : placement_) {
      per_dest_[i].append(line_);
      ++per_dest_lines_[i];
    }
    ++lines_;
  }
  for (size_t i = 0; i < n; ++i) {
    if (per_dest_lines_[i] == 0) continue;
    dests_[i].dest->Add(per_dest_[i], per_dest_lines_[i], ticket);
    ++*parts;
  }
}

void GraphiteSink::Consume(std::vector<consumer::Delivery> batch, consumer::Finisher& finisher) {
  std::vector<uint64_t> done;
  // A reload that was acknowledged (logged) applies to every delivery after it.
  ApplyPending(&done);
  std::vector<consumer::DeliveryId> immediate;
  for (const consumer::Delivery& d : batch) {
    const uint64_t ticket = next_ticket_++;
    uint32_t parts = 0;
    if (d.envelope.has_samples()) {
      AddSamples(d, ticket, &parts);
    } else if (d.envelope.has_alerts() && events_ && !options_.graphite_web_url.empty()) {
      alerts_ += static_cast<uint64_t>(d.envelope.alerts().alerts_size());
      events_->Post(d.envelope.alerts(), ticket);
      ++parts;
    }
    if (parts == 0) {
      immediate.push_back(consumer::IdOf(d));
    } else {
      tickets_[ticket] = Ticket{consumer::IdOf(d), parts};
    }
  }
  if (!immediate.empty()) finisher.Finish(immediate);
  PumpAll(milliseconds(0), &done);
  const Clock::time_point give_up = Clock::now() + std::chrono::seconds(1);
  while (UnwrittenConnectedBytes() > kHighWaterBytes && Clock::now() < give_up)
    PumpAll(milliseconds(10), &done);
  FinishTickets(done, finisher);
}

uint64_t GraphiteSink::UnwrittenConnectedBytes() const {
  uint64_t total = 0;
  for (const DestinationSlot& s : dests_) {
    if (s.dest->connected()) total += s.dest->unwritten_bytes();
  }
  return total;
}

void GraphiteSink::PumpAll(milliseconds wait, std::vector<uint64_t>* done) {
  if (wait.count() > 0) {
    std::vector<pollfd> fds;
    Clock::time_point deadline = Clock::now() + wait;
    for (const DestinationSlot& s : dests_) {
      if (s.dest->fd() >= 0 && s.dest->poll_events() != 0)
        fds.push_back(pollfd{s.dest->fd(), s.dest->poll_events(), 0});
      deadline = std::min(deadline, s.dest->next_deadline());
    }
    const auto ms = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (ms > 0) (void)::poll(fds.data(), fds.size(), static_cast<int>(ms));
  }
  const Clock::time_point now = Clock::now();
  for (DestinationSlot& s : dests_) s.dest->Pump(now, done);
  if (events_) {
    std::vector<uint64_t> e = events_->TakeDone();
    done->insert(done->end(), e.begin(), e.end());
  }
  for (const auto& old : retired_events_) {
    std::vector<uint64_t> e = old->TakeDone();
    done->insert(done->end(), e.begin(), e.end());
  }
}

void GraphiteSink::FinishTickets(const std::vector<uint64_t>& done, consumer::Finisher& finisher) {
  std::vector<consumer::DeliveryId> ids;
  for (uint64_t t : done) {
    auto it = tickets_.find(t);
    if (it == tickets_.end()) continue;
    if (--it->second.remaining == 0) {
      ids.push_back(it->second.id);
      tickets_.erase(it);
    }
  }
  if (!ids.empty()) finisher.Finish(ids);
}

void GraphiteSink::Tick(Clock::time_point now, consumer::Finisher& finisher) {
  (void)now;
  std::vector<uint64_t> done;
  ApplyPending(&done);
  bool writing = false;
  for (const DestinationSlot& s : dests_) writing = writing || s.dest->wants_write();
  PumpAll(writing ? milliseconds(5) : milliseconds(0), &done);
  FinishTickets(done, finisher);
}

milliseconds GraphiteSink::TickInterval() const {
  Clock::time_point next = Clock::now() + milliseconds(200);
  for (const DestinationSlot& s : dests_) {
    if (s.dest->wants_write()) return milliseconds(1);
    next = std::min(next, s.dest->next_deadline());
  }
  // Event posts finish on another thread; look for them often while any are out.
  if (!tickets_.empty()) next = std::min(next, Clock::now() + milliseconds(50));
  auto ms = std::chrono::duration_cast<milliseconds>(next - Clock::now());
  return std::clamp(ms, milliseconds(2), milliseconds(200));
}

void GraphiteSink::Close(consumer::Finisher& finisher) {
  // Alerts queued for graphite-web are posted before the stop (bounded: a dead graphite-web must
  // not hold it up), so their batches are committed and not posted again after the restart.
  const Clock::time_point drain_until = Clock::now() + kEventDrain;
  for (const auto& events : retired_events_) {
    (void)events->Drain(std::chrono::duration_cast<milliseconds>(drain_until - Clock::now()));
  }
  if (events_ &&
      !events_->Drain(std::chrono::duration_cast<milliseconds>(drain_until - Clock::now()))) {
    spdlog::warn(
        "graphite events not all posted within {} ms of the stop; those batches come again after "
        "the restart",
        kEventDrain.count());
  }
  std::vector<uint64_t> done;
  PumpAll(milliseconds(0), &done);
  FinishTickets(done, finisher);
  for (DestinationSlot& s : dests_) s.dest->Close();
  if (!tickets_.empty()) {
    spdlog::info("{} deliveries not settled at stop; they come again after the restart",
                 tickets_.size());
  }
}

void GraphiteSink::AppendMetrics(consumer::MetricOut out) {
  out.Counter("samples", samples_);
  out.Counter("lines", lines_);
  out.Counter("skipped_nonfinite", skipped_nonfinite_);
  out.Counter("skipped_unsendable", skipped_unsendable_);
  out.Counter("alerts", alerts_);
  out.Counter("reloads", reloads_);
  std::vector<DestinationSlot> view;
  std::shared_ptr<GraphiteEvents> events;
  {
    MutexLock lock(&mu_);
    view = metric_view_;
    events = events_view_;
  }
  if (events) {
    out.Counter("events_posted", events->posted);
    out.Counter("events_failed", events->failed);
    out.Counter("events_retries", events->retries);
  }
  for (const DestinationSlot& s : view) {
    const DestinationStats& st = s.dest->stats();
    const std::map<std::string, std::string> tag = {{"destination", s.name}};
    out.Counter("lines_written", st.lines_written, tag);
    out.Counter("lines_settled", st.lines_settled, tag);
    out.Counter("lines_resent", st.lines_resent, tag);
    out.Counter("lines_spooled", st.lines_spooled, tag);
    out.Counter("lines_from_spool", st.lines_from_spool, tag);
    out.Counter("connects", st.connects, tag);
    out.Counter("connect_failures", st.connect_failures, tag);
    out.Counter("disconnects", st.disconnects, tag);
    out.Counter("spool_dropped_records", st.spool_dropped_records, tag);
    out.Counter("spool_dropped_bytes", st.spool_dropped_bytes, tag);
    out.Gauge("spool_bytes", static_cast<double>(st.spool_bytes), tag);
    out.Gauge("spool_records", static_cast<double>(st.spool_records), tag);
    out.Gauge("queued_bytes", static_cast<double>(st.queued_bytes), tag);
    out.Gauge("connected", st.connected, tag);
  }
}

}  // namespace hw::graphite
