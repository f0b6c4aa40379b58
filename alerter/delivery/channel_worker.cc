#include "alerter/delivery/channel_worker.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace hw::alerter::delivery {
namespace {

using std::chrono::milliseconds;

// Logs the 1st, 2nd, 4th, 8th ... repeat of a problem: a lane that stays down for hours does not
// fill the log, and the count says how long it has been failing.
bool LogThisTime(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

void ChannelWorker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ChannelWorker::Add(OutboxJob job, const std::string& lane) {
  MutexLock lock(&mu_);
  LaneFor(lane).jobs.push_back(std::move(job));
  cv_.Signal();
}

void ChannelWorker::AddRepost(OutboxJob job, const std::string& lane) {
  MutexLock lock(&mu_);
  Lane& l = LaneFor(lane);
  for (OutboxJob& queued : l.jobs) {
    if (queued.name.empty()) {
      queued = std::move(job);
      return;
    }
  }
  l.jobs.push_back(std::move(job));
  cv_.Signal();
}

void ChannelWorker::RequestStop(Clock::time_point deadline) {
  MutexLock lock(&mu_);
  stopping_ = true;
  stop_deadline_ = deadline;
  cv_.SignalAll();
}

void ChannelWorker::Join() {
  if (thread_.joinable()) thread_.join();
}

ChannelWorker::Lane& ChannelWorker::LaneFor(const std::string& name) {
  auto it = lanes_.find(name);
  if (it == lanes_.end()) {
    it = lanes_
             .emplace(name, Lane{{},
                                 consumer::Backoff(options_.retry_initial, options_.retry_max),
                                 Clock::time_point{}})
             .first;
  }
  return it->second;
}

bool ChannelWorker::NextJob(std::string* lane_name, OutboxJob* job) {
  MutexLock lock(&mu_);
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (stopping_ && now >= stop_deadline_) return false;
    Lane* best = nullptr;
    const std::string* best_name = nullptr;
    for (auto& [name, lane] : lanes_) {
      if (lane.jobs.empty()) continue;
      if (best == nullptr || lane.next_attempt < best->next_attempt) {
        best = &lane;
        best_name = &name;
      }
    }
    if (best == nullptr) {
      if (stopping_) return false;
      cv_.Wait(&mu_);
      continue;
    }
    if (best->next_attempt > now) {
      if (stopping_ && best->next_attempt >= stop_deadline_) return false;
      cv_.WaitUntil(&mu_,
                    stopping_ ? std::min(best->next_attempt, stop_deadline_) : best->next_attempt);
      continue;
    }
    *lane_name = *best_name;
    *job = std::move(best->jobs.front());
    best->jobs.pop_front();
    return true;
  }
}

void ChannelWorker::Run() {
  // A child's stdin or a peer's socket that closes early must not kill the daemon.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  const AbortFn abort = [this] {
    MutexLock lock(&mu_);
    return stopping_ && Clock::now() >= stop_deadline_;
  };
  std::string lane_name;
  OutboxJob job;
  while (NextJob(&lane_name, &job)) {
    SendOutcome outcome = send_(job, abort);
    const std::string_view channel = ChannelName(channel_);
    // Some recipients deferred the mail: the job lives on for them alone (rewritten before
    // `sent` is counted), so the ones who took it never get it twice.
    const bool narrowed = !outcome.retry_recipients.empty() &&
                          outcome.retry_recipients != job.recipients && !job.name.empty();
    if (narrowed) {
      job.recipients = std::move(outcome.retry_recipients);
      if (Status s = outbox_->Put(job); !s.ok()) {
        spdlog::error("delivery: {} could not be rewritten for its deferred recipients: {}",
                      job.name, s.ToString());
      }
    }
    if (outcome.result == SendOutcome::kSent && narrowed) {
      ++stats_->sent;
      ++stats_->retried;
      spdlog::warn("delivery: {} {} to {}: {}; retrying the deferred recipients", channel,
                   job.notification_id, lane_name, outcome.detail);
      outcome.result = SendOutcome::kRetry;
    } else if (outcome.result == SendOutcome::kSent) {
      // The outbox and `pending` first, the counter last: whoever sees `sent` go up may rely on
      // the job being gone.
      if (Status s = outbox_->Remove(job); !s.ok()) {
        spdlog::error("delivery: {} sent but not removed from the outbox: {}", job.name,
                      s.ToString());
      }
      if (!job.name.empty()) --*pending_;
      ++stats_->sent;
      if (outcome.some_refused) {
        spdlog::error("delivery: {} {} to {}: {} (\"{}\")", channel, job.notification_id, lane_name,
                      outcome.detail, job.summary);
      } else {
        spdlog::debug("delivery: {} {} to {}: {}", channel, job.notification_id, lane_name,
                      outcome.detail);
      }
    } else if (outcome.result == SendOutcome::kFailed) {
      if (Status s = outbox_->MoveToFailed(job); !s.ok()) {
        spdlog::error("delivery: {} could not be moved to failed/: {}", job.name, s.ToString());
      }
      if (!job.name.empty()) --*pending_;
      ++stats_->failed;
      spdlog::error("delivery: {} {} to {} refused, not retried: {} (\"{}\")", channel,
                    job.notification_id, lane_name, outcome.detail, job.summary);
    } else {
      ++stats_->retried;
    }
    MutexLock lock(&mu_);
    Lane& lane = LaneFor(lane_name);
    if (outcome.result == SendOutcome::kRetry) {
      const milliseconds delay = lane.backoff.Next();
      lane.next_attempt = Clock::now() + delay;
      if (LogThisTime(lane.backoff.failures())) {
        spdlog::warn("delivery: {} to {} failed ({} times in a row), retry in {} ms: {}", channel,
                     lane_name, lane.backoff.failures(), delay.count(), outcome.detail);
      }
      lane.jobs.push_front(std::move(job));
    } else {
      lane.backoff.Reset();
      lane.next_attempt = Clock::time_point{};
    }
  }
}

}  // namespace hw::alerter::delivery
