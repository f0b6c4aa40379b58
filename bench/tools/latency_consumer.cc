// hw_bench_latency_consumer: producer-to-consumer latency through hostwatch-broker.
//
// Reads a consumer group through hw::transport::ConsumerLink (exactly as `hostwatch consume`
// does: poll up to 1024 deliveries, then commit them) and, per envelope, records
// now - envelope.sent_ms. sent_ms is stamped by the producer link when the envelope is published
// (before it is spooled), so this is the whole path: spool, send, journal, deliver, parse.
// sent_ms has millisecond resolution and is truncated, so each figure is high by 0-1 ms.
// Envelopes published within --warmup seconds of the first one are not counted.
// Prints one JSON line. Exit 0, 1 when fewer than --count items arrived, 2 on a usage error.
#include <string>

#include "bench/tools/bench_util.h"
#include "common/transport/consumer_link.h"

namespace {

using namespace hw::bench;

constexpr std::string_view kTool = "hw_bench_latency_consumer";
constexpr std::string_view kUsage =
    "usage: hw_bench_latency_consumer --broker tcp://127.0.0.1:F --backend tcp://127.0.0.1:B\n"
    "                                 [--group bench-latency] [--start latest|earliest|committed]\n"
    "                                 [--count N] [--idle 5] [--timeout 300] [--warmup 1]\n"
    "Stops after N items (samples), S seconds without a delivery (--idle), or --timeout.\n";

int64_t WallUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f(
      kTool, argc, argv,
      {"--broker", "--backend", "--group", "--start", "--count", "--idle", "--timeout", "--warmup"},
      kUsage);
  if (!f.Has("--broker") || !f.Has("--backend")) Die(kTool, "--broker and --backend are required");
  hw::transport::ConsumerOptions o;
  o.group = f.Str("--group", "bench-latency");
  o.link.brokers = {f.Str("--broker", "")};
  o.link.backends = {f.Str("--backend", "")};
  const std::string start = f.Str("--start", "latest");
  if (start == "latest") {
    o.start = hostwatch::v1::Subscribe::LATEST;
  } else if (start == "earliest") {
    o.start = hostwatch::v1::Subscribe::EARLIEST;
  } else if (start == "committed") {
    o.start = hostwatch::v1::Subscribe::COMMITTED;
  } else {
    Die(kTool, "--start: latest, earliest or committed");
  }
  const uint64_t count = f.Count("--count", UINT64_MAX);
  const auto idle = f.Seconds("--idle", 5);
  const auto timeout = f.Seconds("--timeout", 300);
  const int64_t warmup_ms = f.Seconds("--warmup", 1).count();

  auto link = hw::transport::ConsumerLink::Connect(o);
  if (!link.ok()) Die(kTool, link.status().ToString());
  hw::transport::ConsumerLink& c = **link;

  Latencies lat;
  lat.Reserve(1 << 20);
  uint64_t items = 0, envelopes = 0;
  int64_t first_sent_ms = -1;
  const Clock::time_point begin = Clock::now();
  Clock::time_point first{}, last = begin;
  while (items < count) {
    const Clock::time_point now = Clock::now();
    if (now - begin > timeout || now - last > idle) break;
    auto batch = c.Poll(std::chrono::milliseconds(100), 1024);
    if (!batch.ok()) Die(kTool, batch.status().ToString());
    if (batch->empty()) continue;
    const int64_t now_us = WallUs();
    last = Clock::now();
    if (envelopes == 0) first = last;
    for (const hw::transport::Delivery& d : *batch) {
      const hostwatch::v1::Envelope& e = d.envelope;
      if (first_sent_ms < 0) first_sent_ms = e.sent_ms();
      if (e.sent_ms() >= first_sent_ms + warmup_ms) lat.Add((now_us - e.sent_ms() * 1000) * 1000);
      items += static_cast<uint64_t>(e.samples().samples_size() + e.events().events_size() +
                                     e.alerts().alerts_size());
      ++envelopes;
    }
    if (auto st = c.Commit(*batch); !st.ok()) Die(kTool, st.ToString());
  }
  const double span = envelopes > 1 ? std::chrono::duration<double>(last - first).count() : 0;
  const hw::transport::ConsumerStats& st = c.stats();
  char head[320];
  std::snprintf(
      head, sizeof head,
      "{\"tool\": \"hostwatch-broker\", \"mode\": \"latency\", \"envelopes\": %llu, \"items\": "
      "%llu, "
      "\"duplicates\": %llu, \"span_s\": %.3f, \"items_per_s\": %.0f, \"warmup_s\": %.1f, ",
      static_cast<unsigned long long>(envelopes), static_cast<unsigned long long>(items),
      static_cast<unsigned long long>(st.duplicates), span,
      span > 0 ? static_cast<double>(items) / span : 0.0, static_cast<double>(warmup_ms) / 1000.0);
  std::fputs((head + lat.Json() + "}\n").c_str(), stdout);
  return count != UINT64_MAX && items < count ? 1 : 0;
}
