// Alerts as graphite events (graphite/README.md): each Alert of an AlertBatch is POSTed as JSON to
// graphite-web's /events/ with tags "hostwatch alert <state> <severity> <rule> <endpoint>", which
// the grafana dashboard (deploy/grafana/hostwatch-overview.json) shows as annotations.
//
// The posts run on a thread of their own so that a slow or dead graphite-web never holds up the
// carbon lines. Network errors and 5xx are retried with backoff (up to kMaxAttempts, then dropped
// and counted, so one dead graphite-web cannot block the commits for good); 4xx is final (counted).
// A batch's ticket is reported done once all of its alerts were posted or given up.
//
// Thread-safety: Post and TakeDone from the owner (sink) thread; stats from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "common/base/mutex.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::graphite {

// The JSON body graphite-web's /events/ takes for one alert (for tests too).
std::string GraphiteEventJson(const hostwatch::v1::Alert& alert);

class GraphiteEvents {
 public:
  static constexpr int kMaxAttempts = 8;
  // base_url: graphite-web, e.g. "http://127.0.0.1:8080" (the "/events/" path is added).
  GraphiteEvents(std::string base_url, std::chrono::milliseconds timeout);
  ~GraphiteEvents();  // stops the thread; what is not posted yet stays unfinished
  GraphiteEvents(const GraphiteEvents&) = delete;
  GraphiteEvents& operator=(const GraphiteEvents&) = delete;

  void Post(const hostwatch::v1::AlertBatch& batch, uint64_t ticket);
  std::vector<uint64_t> TakeDone();
  // At a stop: waits up to max_wait for every queued post to be sent or given up, so their
  // batches can be committed rather than posted a second time after the restart. True when
  // nothing is left.
  bool Drain(std::chrono::milliseconds max_wait);

  std::atomic<uint64_t> posted{0}, failed{0}, retries{0};

 private:
  struct Job {
    std::vector<std::string> bodies;
    uint64_t ticket = 0;
  };
  void Run();
  // 0: posted; >0 HTTP status (final for 4xx); -1 network error.
  long PostOne(const std::string& body, std::string* error);

  const std::string url_;
  const std::chrono::milliseconds timeout_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  std::vector<uint64_t> done_ GUARDED_BY(mu_);
  bool busy_ GUARDED_BY(mu_) = false;  // a job taken from queue_ and not in done_ yet
  CondVar idle_cv_;                    // queue_ empty and !busy_
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hw::graphite
