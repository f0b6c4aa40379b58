#include "alerter/alerter_sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
namespace st = hostwatch::alerter::v1;

constexpr uint32_t kStateVersion = 1;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewEpoch() {
  std::random_device rd;
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08x%08x", static_cast<unsigned>(rd()),
                static_cast<unsigned>(rd()));
  return buf;
}

}  // namespace

AlerterSink::AlerterSink(AlerterConfig config, std::unique_ptr<Delivery> delivery,
                         SinkOptions options)
    : config_(std::move(config)),
      delivery_(std::move(delivery)),
      options_(std::move(options)),
      silences_(config_.SilencesPath()) {
  if (!options_.now_ms) options_.now_ms = SystemNowMs;
  rules_ = std::make_unique<RuleSet>(config_.rules);
  engine_ = std::make_unique<AlertEngine>(
      rules_.get(), AlertEngine::Options{config_.pipeline.nodata_storm_percent});
  pipeline_ =
      std::make_unique<Pipeline>(config_.pipeline, rules_.get(), engine_.get(), delivery_.get());
  pipeline_->set_epoch(NewEpoch());
  store_ = std::make_unique<StateStore>(config_.state_dir,
                                        StateStore::Options{options_.background_save});
}

AlerterSink::~AlerterSink() = default;

Status AlerterSink::Open() {
  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir, ec);
  if (ec) {
    return Status::IoError("alerter: cannot create state_dir " + config_.state_dir, ec.value());
  }
  const int64_t now = options_.now_ms();
  st::AlerterState state;
  bool found = false;
  HW_RETURN_IF_ERROR(store_->Load(&state, &found));
  if (found) {
    engine_->Load(state);
    pipeline_->Load(state);
    for (const st::Position& p : state.positions()) {
      positions_[{p.broker(), p.partition()}] = p.offset();
    }
    spdlog::info("alerter: state restored ({} series, {} alerts, saved {} ms ago)",
                 state.series_size(), state.alerts_size(), now - state.saved_ms());
  }
  // The whole state, now: a new state's epoch (part of every Notification id) survives a crash
  // before the first periodic save, and a restored one starts a fresh journal.
  SaveState(now, true, nullptr);
  store_->Drain();
  if (store_->stats().errors > 0) {
    return Status::IoError("alerter: cannot write the state in " + config_.state_dir, EIO);
  }
  engine_->Start(now);
  silences_.Poll();
  last_save_ms_ = now;
  UpdateSnapshot();
  return Status::Ok();
}

void AlerterSink::RequestReload(const AlerterConfig& config) {
  MutexLock lock(&mu_);
  reload_ = std::make_unique<AlerterConfig>(config);
}

void AlerterSink::Reload(const AlerterConfig& config) {
  st::AlerterState state;
  engine_->Save(&state);
  pipeline_->Save(&state);
  config_.rules = config.rules;
  config_.pipeline = config.pipeline;
  config_.silences_file = config.silences_file;
  auto rules = std::make_unique<RuleSet>(config_.rules);
  auto engine = std::make_unique<AlertEngine>(
      rules.get(), AlertEngine::Options{config_.pipeline.nodata_storm_percent});
  engine->Load(state);
  engine->Start(options_.now_ms());
  auto pipeline =
      std::make_unique<Pipeline>(config_.pipeline, rules.get(), engine.get(), delivery_.get());
  pipeline->Load(state);
  pipeline_ = std::move(pipeline);
  engine_ = std::move(engine);
  rules_ = std::move(rules);
  silences_ = SilenceWatcher(config_.SilencesPath());
  silences_.Poll();
  dirty_ = true;
  whole_next_ = true;  // series and alerts of removed rules must leave the saved state too
  spdlog::info("alerter: {} rules loaded", rules_->rules().size());
}

void AlerterSink::Route(std::vector<AlertChange>& changes, int64_t now_ms) {
  for (const AlertChange& c : changes) {
    pipeline_->OnChange(c, now_ms);
    *to_publish_.add_alerts() = c.alert;
  }
  if (!changes.empty()) dirty_ = true;
  changes.clear();
}

void AlerterSink::Handle(const pb::Envelope& env, int64_t now_ms) {
  std::vector<AlertChange> changes;
  switch (env.body_case()) {
    case pb::Envelope::kSamples:
      engine_->OnSamples(env.samples(), &changes);
      dirty_ = true;
      break;
    case pb::Envelope::kEvents:
      engine_->OnEvents(env.events(), &changes);
      dirty_ = true;
      break;
    default:
      break;  // our own AlertBatches and anything newer: not ours to judge
  }
  Route(changes, now_ms);
}

void AlerterSink::Feed(const pb::Envelope& envelope, int64_t now_ms) { Handle(envelope, now_ms); }

bool AlerterSink::HandleBytes(std::string_view bytes, int64_t now_ms) {
  std::vector<AlertChange> changes;
  size_t judged = 0;
  if (wire_.Open(bytes, nullptr)) {
    const std::string_view endpoint = wire_.endpoint();
    int64_t newest = 0;
    while (wire_.Next(&sample_)) {
      newest = std::max(newest, sample_.time_ms);
      engine_->OnSample(endpoint, &sample_, &changes);
      ++judged;
    }
    if (wire_.ok()) {
      naming::TagView host_tags[naming::kMaxWireTags];
      const size_t count = wire_.host_tag_count();
      std::copy_n(wire_.host_tags(), count, host_tags);
      engine_->OnHost(endpoint, newest, host_tags, count);
      dirty_ = true;
      Route(changes, now_ms);
      return true;
    }
  }
  // Events, our own AlertBatches, a samples envelope of a shape the reader leaves to protobuf,
  // or bytes that are not an envelope: the full parse decides. A samples batch resumes after the
  // samples already judged (a parse keeps their order).
  pb::Envelope env;
  if (!env.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    ++malformed_;
    Route(changes, now_ms);
    return false;
  }
  if (env.has_samples()) {
    engine_->OnSamples(env.samples(), &changes, judged);
    dirty_ = true;
    Route(changes, now_ms);
  } else {
    Handle(env, now_ms);
  }
  return true;
}

void AlerterSink::Consume(std::vector<consumer::Delivery> batch, consumer::Finisher& finisher) {
  const int64_t now = options_.now_ms();
  int64_t newest_sent = 0;
  std::vector<consumer::DeliveryId> already;
  for (const consumer::Delivery& d : batch) {
    const auto pos_key = std::make_pair(static_cast<uint64_t>(d.broker), d.partition);
    auto it = positions_.find(pos_key);
    if (it != positions_.end() && d.offset <= it->second) {
      ++skipped_;
      already.push_back(consumer::IdOf(d));
      continue;
    }
    newest_sent = std::max(newest_sent, d.envelope.sent_ms());
    // With raw bodies (the daemon) the envelope holds only its header and the body is its bytes.
    if (d.body.empty()) {
      Handle(d.envelope, now);
    } else if (!HandleBytes(d.body, now)) {
      if (auto n = malformed_log_.Allow()) {
        spdlog::warn(
            "alerter: malformed envelope from broker {} partition {} offset {} skipped ({} more "
            "since)",
            d.broker, d.partition, d.offset, *n);
      }
    }
    positions_[pos_key] = d.offset;
    unfinished_.push_back(consumer::IdOf(d));
    dirty_ = true;
    samples_since_publish_ += d.items;  // counted by the link as it read the envelope
    // Live, a change goes out within about a millisecond of judging, not after the rest of a long
    // batch; while catching up on a backlog, once per batch. Not after every envelope: at 100k
    // samples/s with alerts changing all the time that was an AlertBatch (a spool write on this
    // thread, a send and an ack on the producer link, a journal append at the broker) per 64
    // samples, a sixth of the alerter's CPU (bench/alerter.sh, docs/benchmarks.md).
    if (!lagging_ && samples_since_publish_ >= kPublishEverySamples) PublishPending();
  }
  last_batch_ms_ = now;
  if (!already.empty()) finisher.Finish(already);
  if (newest_sent > 0) {
    last_consume_ms_ = now;
    lagging_ = now - newest_sent > options_.lag_threshold_ms;
  }
  PublishPending();
}

void AlerterSink::TickAt(int64_t now_ms) {
  // Caught up when nothing has come for a while: an idle broker is not a backlog.
  if (lagging_ && now_ms - last_consume_ms_ > 2000) lagging_ = false;
  silences_.Poll();
  std::vector<AlertChange> changes;
  engine_->Tick(now_ms, lagging_, &changes);
  Route(changes, now_ms);
  pipeline_->Tick(now_ms, silences_.silences());
  if (delivery_) delivery_->Tick(now_ms);
  PublishPending();
}

void AlerterSink::Tick(std::chrono::steady_clock::time_point, consumer::Finisher& finisher) {
  std::unique_ptr<AlerterConfig> next;
  {
    MutexLock lock(&mu_);
    next = std::move(reload_);
  }
  if (next) Reload(*next);
  const int64_t now = options_.now_ms();
  const PipelineStats before = pipeline_->stats();
  // The kit also ticks after every Consume; timers (nodata, groups, silences) need a second's
  // resolution, and a pass over every group after each batch would cost more than the batch.
  if (now - last_tick_ms_ >= 1000 || now < last_tick_ms_) {
    last_tick_ms_ = now;
    TickAt(now);
  }
  const PipelineStats after = pipeline_->stats();
  // A message just went out: record that at once, so a crash now cannot send it a second time.
  const bool sent = after.notifications != before.notifications || after.held != before.held;
  MaybeSaveAndFinish(now, finisher, sent);
  // The snapshot is only read for self-metrics (every 10 s), and EngineStats walks every open
  // alert: once a second, not after every Consume (perf: a few % of the sink thread on a backlog).
  if (now - last_snapshot_ms_ >= 1000 || now < last_snapshot_ms_) {
    last_snapshot_ms_ = now;
    UpdateSnapshot();
  }
}

void AlerterSink::Close(consumer::Finisher& finisher) {
  const int64_t now = options_.now_ms();
  PublishPending();
  MaybeSaveAndFinish(now, finisher, true);
  store_->Drain();
  if (delivery_) delivery_->Stop(std::chrono::seconds(5));
  UpdateSnapshot();
}

void AlerterSink::PublishPending() {
  samples_since_publish_ = 0;
  if (to_publish_.alerts_size() == 0) return;
  if (options_.publish) {
    // The producer link spools before it returns; a refusal (a full disk) loses only the
    // broadcast of these changes, never the alert state or the notifications.
    if (Status s = options_.publish(to_publish_); s.ok()) {
      published_ += static_cast<uint64_t>(to_publish_.alerts_size());
    } else if (publish_errors_++ % 100 == 0) {
      spdlog::warn("alerter: alert changes not published ({} failures): {}", publish_errors_,
                   s.ToString());
    }
  }
  to_publish_.Clear();
}

void AlerterSink::SaveState(int64_t now_ms, bool whole, consumer::Finisher* finisher) {
  st::AlerterState state;
  state.set_version(kStateVersion);
  state.set_saved_ms(now_ms);
  for (const auto& [key, offset] : positions_) {
    st::Position* p = state.add_positions();
    p->set_broker(key.first);
    p->set_partition(key.second);
    p->set_offset(offset);
  }
  if (whole || engine_->needs_whole()) {
    whole = true;
    engine_->Save(&state);
    pipeline_->Save(&state);
    engine_->ClearChanges();
    pipeline_->ClearChanges();
  } else {
    engine_->SaveChanges(&state);
    pipeline_->SaveChanges(&state);
  }
  // The store finishes them once the record is durable, or after a later write if this one fails
  // (nothing is finished before: the broker keeps the deliveries and a restart replays them).
  store_->Submit(std::move(state), whole, std::move(unfinished_), finisher);
  unfinished_.clear();
  last_save_ms_ = now_ms;
  dirty_ = false;
}

void AlerterSink::MaybeSaveAndFinish(int64_t now_ms, consumer::Finisher& finisher, bool force) {
  // The pipeline changes its bookkeeping on ticks too (a message went out), so the state is saved
  // when anything changed, not only when deliveries wait. A save writes only what changed, so it
  // costs what the second's input touched, not the size of the state.
  const bool idle = !unfinished_.empty() && now_ms - last_batch_ms_ >= options_.idle_save_ms;
  if (!force && !idle && now_ms - last_save_ms_ < options_.save_interval_ms) return;
  if (!dirty_ && unfinished_.empty() && !force && !store_->holding()) return;
  SaveState(now_ms, whole_next_, &finisher);
  whole_next_ = false;
}

void AlerterSink::UpdateSnapshot() {
  Snapshot s;
  s.engine = engine_->stats();
  s.pipeline = pipeline_->stats();
  s.skipped = skipped_;
  const StateStoreStats store = store_->stats();
  s.saves = store.appends + store.snapshots;
  s.save_errors = store.errors;
  s.published = published_;
  s.publish_errors = publish_errors_;
  s.silences = silences_.silences().size();
  s.lagging = lagging_;
  s.malformed = malformed_;
  MutexLock lock(&mu_);
  snapshot_ = s;
}

void AlerterSink::AppendMetrics(consumer::MetricOut out) {
  Snapshot s;
  {
    MutexLock lock(&mu_);
    s = snapshot_;
  }
  out.Counter("samples", s.engine.samples);
  out.Counter("evaluated", s.engine.evaluated);
  out.Counter("replayed", s.engine.replayed);
  out.Counter("events", s.engine.events);
  out.Gauge("series", static_cast<double>(s.engine.series));
  out.Gauge("firing", static_cast<double>(s.engine.firing));
  out.Gauge("pending", static_cast<double>(s.engine.pending));
  out.Counter("notifications", s.pipeline.notifications);
  out.Counter("digests", s.pipeline.digests);
  out.Counter("held", s.pipeline.held);
  out.Counter("muted_silence", s.pipeline.muted_silence);
  out.Counter("muted_inhibit", s.pipeline.muted_inhibit);
  out.Counter("enqueue_errors", s.pipeline.enqueue_errors);
  out.Counter("skipped_replays", s.skipped);
  // Bodies that did not parse; the kit's `malformed` counts what the link could not even frame.
  out.Counter("malformed_bodies", s.malformed);
  out.Counter("state_saves", s.saves);
  out.Counter("state_save_errors", s.save_errors);
  out.Counter("alerts_published", s.published);
  out.Gauge("silences", static_cast<double>(s.silences));
  out.Gauge("lagging", s.lagging ? 1 : 0);
}

}  // namespace hw::alerter
