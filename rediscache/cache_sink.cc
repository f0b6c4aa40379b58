#include "rediscache/cache_sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hw::rediscache {

using namespace std::chrono_literals;

SinkSettings SinkSettings::From(const RedisCacheConfig& c, std::string password) {
  SinkSettings s;
  s.addresses = c.addresses;
  s.connect.timeout = c.timeout;
  s.connect.username = c.username;
  s.connect.password = std::move(password);
  s.writer.prefix = c.prefix;
  s.writer.history_points = c.history_points;
  s.writer.history_metrics = c.history_metrics;
  s.writer.events_maxlen = c.events_maxlen;
  s.writer.host_ttl_ms = c.host_ttl.count();
  return s;
}

RedisCacheSink::RedisCacheSink(SinkSettings settings, BackendFactory factory)
    : settings_(std::move(settings)),
      factory_(factory ? std::move(factory)
                       : [](const SinkSettings& s) { return MakeBackend(s.addresses, s.connect); }),
      writer_(settings_.writer),
      backend_(factory_(settings_)) {
  next_expire_ = Clock::now() + 60s;
}

void RedisCacheSink::Reload(SinkSettings settings) {
  MutexLock lock(&mu_);
  reload_ = std::move(settings);
}

SinkStats RedisCacheSink::stats() const {
  MutexLock lock(&mu_);
  SinkStats s = stats_;
  if (!roundtrips_.empty()) {
    std::vector<double> sorted = roundtrips_;
    std::sort(sorted.begin(), sorted.end());
    s.roundtrip_p50_ms = sorted[sorted.size() / 2];
    s.roundtrip_p99_ms = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
  }
  return s;
}

void RedisCacheSink::ApplyReload() {
  std::optional<SinkSettings> next;
  {
    MutexLock lock(&mu_);
    next.swap(reload_);
  }
  if (!next) return;
  const bool reconnect = next->addresses != settings_.addresses ||
                         next->connect.username != settings_.connect.username ||
                         next->connect.password != settings_.connect.password ||
                         next->connect.timeout != settings_.connect.timeout;
  settings_ = std::move(*next);
  writer_.SetOptions(settings_.writer);
  if (reconnect) {
    backend_ = factory_(settings_);
    // Another server may not have what the old one had.
    rewrite_due_ = true;
    next_attempt_ = {};
  }
}

void RedisCacheSink::Consume(std::vector<consumer::Delivery> batch, consumer::Finisher& finisher) {
  ApplyReload();
  const auto t0 = Clock::now();
  if (first_batch_ == Clock::time_point{}) first_batch_ = t0;
  // A kit batch can hold a thousand envelopes when catching up; a pipeline per kPipelineDeliveries
  // keeps each round trip short (Redis serves other clients between them, and the first commits
  // come sooner) while live traffic, a few envelopes at a time, still takes one round trip.
  for (size_t at = 0; at < batch.size(); at += kPipelineDeliveries) {
    const size_t end = std::min(batch.size(), at + kPipelineDeliveries);
    std::vector<consumer::Delivery> chunk;
    chunk.reserve(end - at);
    std::move(batch.begin() + static_cast<std::ptrdiff_t>(at),
              batch.begin() + static_cast<std::ptrdiff_t>(end), std::back_inserter(chunk));
    Pending p;
    p.ids.reserve(chunk.size());
    for (const consumer::Delivery& d : chunk) p.ids.push_back(consumer::IdOf(d));
    p.plan = writer_.Plan(
        chunk,
        std::chrono::duration_cast<std::chrono::milliseconds>(t0.time_since_epoch()).count());
    {
      MutexLock lock(&mu_);
      stats_.skipped_old += p.plan.skipped_old;
      stats_.malformed += p.plan.malformed;
    }
    pending_.push_back(std::move(p));
  }
  {
    MutexLock lock(&mu_);
    stats_.hosts = writer_.hosts();
  }
  const auto t1 = Clock::now();
  Flush(finisher);
  spdlog::debug("batch of {} deliveries: planned in {:.1f} ms, flushed in {:.1f} ms ({} pending)",
                batch.size(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(Clock::now() - t1).count(),
                pending_.size());
}

void RedisCacheSink::Tick(Clock::time_point now, consumer::Finisher& finisher) {
  ApplyReload();
  if (!pending_.empty() || rewrite_due_) Flush(finisher);
  if (now >= next_expire_ && pending_.empty()) {
    next_expire_ = now + 60s;
    const int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    (void)Run(writer_.Expire(wall_ms));  // a failure is retried with the next batch's backoff
  }
  MutexLock lock(&mu_);
  stats_.pending = pending_.size();
  stats_.hosts = writer_.hosts();
}

void RedisCacheSink::Close(consumer::Finisher& finisher) {
  next_attempt_ = {};  // one last try, bounded by the timeout
  Flush(finisher);
  const SinkStats s = stats();
  const double busy_s = last_written_ > first_batch_
                            ? std::chrono::duration<double>(last_written_ - first_batch_).count()
                            : 0.0;
  spdlog::info(
      "redis {}: {} batches, {} samples, {} events, {} alerts written in {:.3f} s (first batch to "
      "last reply); round trip p50 {:.2f} ms, p99 {:.2f} ms; {} failed attempts",
      backend_->Describe(), s.batches, s.samples, s.events, s.alerts, busy_s, s.roundtrip_p50_ms,
      s.roundtrip_p99_ms, s.failures);
  if (!pending_.empty())
    spdlog::warn("stopping with {} batches not written to redis; they are delivered again",
                 pending_.size());
}

Result<std::vector<Reply>> RedisCacheSink::Run(const Pipeline& pipeline) {
  if (pipeline.empty()) return std::vector<Reply>{};
  Result<std::vector<Reply>> r = backend_->Run(pipeline);
  if (backend_->TakeRestarted()) {
    spdlog::warn("redis {} restarted (new run_id): rewriting {} hosts' registry and latest values",
                 backend_->Describe(), writer_.hosts());
    rewrite_due_ = true;
  }
  if (r.ok()) CountReplies(pipeline, *r);
  return r;
}

void RedisCacheSink::CountReplies(const Pipeline& pipeline, const std::vector<Reply>& replies) {
  uint64_t errors = 0, dups = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].error()) continue;
    // A replayed XADD with its stable id: already written, which is what we wanted.
    if (pipeline[i].argv[0] == "XADD" &&
        replies[i].str.find("equal or smaller") != std::string::npos) {
      ++dups;
      continue;
    }
    ++errors;
    if (errors == 1) {
      spdlog::error("redis refused {} {}: {}", pipeline[i].argv[0], pipeline[i].argv[1],
                    replies[i].str);
    }
  }
  MutexLock lock(&mu_);
  stats_.commands += pipeline.size();
  stats_.command_errors += errors;
  stats_.duplicates += dups;
}

Status RedisCacheSink::RunPending(Pending& p) {
  HW_ASSIGN_OR_RETURN(std::vector<Reply> main, Run(p.plan.main));
  const Pipeline second = writer_.EventWrites(p.plan, main);
  HW_ASSIGN_OR_RETURN(std::vector<Reply> more, Run(second));
  (void)more;
  return Status::Ok();
}

void RedisCacheSink::Failed(const Status& s) {
  const auto now = Clock::now();
  next_attempt_ = now + backoff_.Next();
  ++failures_logged_;
  if (backoff_.failures() == 1 || now - last_failure_log_ >= 30s) {
    spdlog::warn("redis {}: {} ({} failed attempts; {} batches waiting, nothing committed)",
                 backend_->Describe(), s.message(), failures_logged_, pending_.size());
    last_failure_log_ = now;
  }
  MutexLock lock(&mu_);
  ++stats_.failures;
}

void RedisCacheSink::Flush(consumer::Finisher& finisher) {
  if (Clock::now() < next_attempt_) return;
  while (rewrite_due_ || !pending_.empty()) {
    const auto start = Clock::now();
    if (rewrite_due_) {
      rewrite_due_ = false;
      Result<std::vector<Reply>> r = Run(writer_.RewriteAll());
      if (!r.ok()) {
        rewrite_due_ = true;
        Failed(r.status());
        return;
      }
      MutexLock lock(&mu_);
      ++stats_.rewrites;
      continue;
    }
    Pending& p = pending_.front();
    if (Status s = RunPending(p); !s.ok()) {
      Failed(s);
      return;
    }
    if (backoff_.failures() > 0) {
      spdlog::info("redis {} is back after {} failed attempts", backend_->Describe(),
                   failures_logged_);
      failures_logged_ = 0;
    }
    backoff_.Reset();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    finisher.Finish(p.ids);
    last_written_ = Clock::now();
    {
      MutexLock lock(&mu_);
      ++stats_.batches;
      stats_.samples += p.plan.samples;
      stats_.events += p.plan.event_count;
      stats_.alerts += p.plan.alerts;
      stats_.roundtrip_ms = ms;
      if (roundtrips_.size() < 4096) {
        roundtrips_.push_back(ms);
      } else {
        roundtrips_[roundtrip_next_++ % roundtrips_.size()] = ms;
      }
    }
    pending_.pop_front();
  }
}

void RedisCacheSink::AppendMetrics(consumer::MetricOut out) {
  const SinkStats s = stats();
  out.Counter("written_batches", s.batches);
  out.Counter("written_commands", s.commands);
  out.Counter("written_samples", s.samples);
  out.Counter("written_events", s.events);
  out.Counter("written_alerts", s.alerts);
  out.Counter("failed", s.failures);
  out.Counter("command_errors", s.command_errors);
  out.Counter("replayed_duplicates", s.duplicates);
  out.Counter("skipped_old", s.skipped_old);
  out.Counter("malformed", s.malformed);
  out.Counter("rewrites", s.rewrites);
  out.Gauge("pending_batches", static_cast<double>(s.pending));
  out.Gauge("hosts", static_cast<double>(s.hosts));
  out.Gauge("roundtrip_ms", s.roundtrip_ms);
  out.Gauge("roundtrip_p99_ms", s.roundtrip_p99_ms);
}

}  // namespace hw::rediscache
