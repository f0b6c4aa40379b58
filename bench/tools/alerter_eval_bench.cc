// hw_bench_alerter_eval: the alerter's evaluation alone (no broker): R rules over H hosts x M
// series, fed as SampleBatches of 64 samples, through AlertEngine and the notification pipeline
// (a Delivery that drops everything). Prints samples/s. For bench/alerter.sh.
//
//   hw_bench_alerter_eval [--hosts 100] [--metrics 100] [--ticks 200] [--parsed 1]
//
// The envelopes go in as wire bytes (AlerterSink::FeedBytes, what the daemon does); --parsed 1
// feeds them as parsed envelopes instead (AlerterSink::Feed, what test-alerts does).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "alerter/alerter_sink.h"

namespace {

namespace pb = hostwatch::v1;

class NullDelivery : public hw::alerter::Delivery {
 public:
  hw::Status Enqueue(const hw::alerter::Notification&) override { return hw::Status::Ok(); }
  void Tick(int64_t) override {}
  void Stop(std::chrono::milliseconds) override {}
};

std::string Numbered(const char* prefix, int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%04d", prefix, n);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = 100, metrics = 100, ticks = 200, parsed = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--hosts") == 0) hosts = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--metrics") == 0) metrics = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--ticks") == 0) ticks = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--parsed") == 0) parsed = std::atoi(argv[i + 1]);
  }
  hw::alerter::AlerterConfig config;
  config.rules.clear();
  config.state_dir = "/nonexistent";  // never saved: Feed and TickAt only
  // One rule per series, as a fleet with per-host thresholds would have: hosts x metrics rules,
  // each metric carrying `hosts` candidate rules (the index narrows a sample to those).
  for (int m = 1; m <= metrics; ++m) {
    for (int h = 1; h <= hosts; ++h) {
      hw::alerter::Rule r;
      r.name = "r_" + std::to_string(m) + "_" + std::to_string(h);
      r.metric = Numbered("load.m", m);
      r.endpoint = Numbered("loadgen-", h);
      r.expr = hw::alerter::ParseExpr(std::getenv("HW_BENCH_EXPR") ? std::getenv("HW_BENCH_EXPR")
                                                                   : "avg(#3) > 85")
                   .value();
      r.recover = hw::alerter::ParseExpr("avg(#3) < 60").value();
      r.receivers = {"ops"};
      config.rules.push_back(std::move(r));
    }
  }
  int64_t now = 1'700'000'000'000;
  hw::alerter::SinkOptions opts;
  opts.now_ms = [&now] { return now; };
  hw::alerter::AlerterSink sink(config, std::make_unique<NullDelivery>(), opts);

  // The envelopes of one tick, built once (building protobuf maps is not the alerter's cost);
  // each tick only rewrites values and times.
  std::vector<pb::Envelope> tick_envelopes;
  for (int h = 1; h <= hosts; ++h) {
    pb::Envelope env;
    pb::SampleBatch* b = env.mutable_samples();
    b->set_endpoint(Numbered("loadgen-", h));
    for (int m = 1; m <= metrics; ++m) {
      pb::Sample* s = b->add_samples();
      s->set_metric(Numbered("load.m", m));
      (*s->mutable_tags())["host_index"] = std::to_string(h);
      if (b->samples_size() == 64 || m == metrics) {
        tick_envelopes.push_back(env);
        b->clear_samples();
      }
    }
  }
  std::vector<std::string> tick_bytes(tick_envelopes.size());
  uint64_t samples = 0;
  double feeding = 0, ticking = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < ticks; ++t) {
    now += 10000;
    int i = 0;
    for (pb::Envelope& env : tick_envelopes) {
      for (pb::Sample& s : *env.mutable_samples()->mutable_samples()) {
        s.set_value(50 + 40 * std::sin((t + i++) / 10.0));
        s.set_time_ms(now);
      }
    }
    if (!parsed) {
      for (size_t k = 0; k < tick_envelopes.size(); ++k) {
        tick_envelopes[k].SerializeToString(&tick_bytes[k]);
      }
    }
    const auto tick_start = std::chrono::steady_clock::now();
    sink.TickAt(now);
    ticking += std::chrono::duration<double>(std::chrono::steady_clock::now() - tick_start).count();
    const auto feed_start = std::chrono::steady_clock::now();
    for (size_t k = 0; k < tick_envelopes.size(); ++k) {
      samples += static_cast<uint64_t>(tick_envelopes[k].samples().samples_size());
      if (parsed) {
        sink.Feed(tick_envelopes[k], now);
      } else {
        sink.FeedBytes(tick_bytes[k], now);
      }
    }
    feeding += std::chrono::duration<double>(std::chrono::steady_clock::now() - feed_start).count();
  }
  // Ticks (nodata, the pipeline) once per simulated interval, timed apart.
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const hw::alerter::EngineStats st = sink.engine().stats();
  std::printf(
      "{\"rules\": %zu, \"series\": %llu, \"samples\": %llu, \"seconds\": %.3f, "
      "\"samples_per_s\": %.0f, \"firing\": %llu, \"tick_seconds\": %.3f, \"input\": \"%s\"}\n",
      config.rules.size(), static_cast<unsigned long long>(st.series),
      static_cast<unsigned long long>(samples), secs, static_cast<double>(samples) / feeding,
      static_cast<unsigned long long>(st.firing), ticking, parsed ? "parsed" : "bytes");
  return 0;
}
