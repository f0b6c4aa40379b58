// hw_bench_probe: publishes one gauge from one long-lived producer link, alternating a high and a
// low value every --interval-ms, for bench/alerter.sh's latency probes.
//
// Why not `hostwatch send` per probe: the producer link stamps sent_ms when a sample is published,
// and a fresh process publishes before its connection to the broker exists, so every probe's
// figure included a TCP connect and a ZeroMQ handshake (about 3 ms at p50 on the bench VM, with
// no load at all). A collector publishes over a link that is already up; so does this tool: it
// waits for the ack of a warm-up sample (the low value) before the first probe.
//
// Prints one JSON line with the number of probes published. Exit 0, 1 when the warm-up was not
// acked in --timeout seconds, 2 on a usage error.
#include <string>

#include "bench/tools/bench_util.h"
#include "common/transport/producer_link.h"

namespace {

using namespace hw::bench;

constexpr std::string_view kTool = "hw_bench_probe";
constexpr std::string_view kUsage =
    "usage: hw_bench_probe --broker tcp://127.0.0.1:F --spool-dir DIR [--endpoint probe]\n"
    "                      [--metric cpu.busy] [--high 99] [--low 1] [--interval-ms 50]\n"
    "                      [--seconds 10] [--timeout 10]\n";

hw::Status PublishValue(hw::transport::ProducerLink& link, const std::string& endpoint,
                        const std::string& metric, double value) {
  hostwatch::v1::Envelope env;
  hostwatch::v1::SampleBatch* batch = env.mutable_samples();
  batch->set_endpoint(endpoint);
  hostwatch::v1::Sample* s = batch->add_samples();
  s->set_metric(metric);
  s->set_value(value);
  s->set_time_ms(WallMs());
  s->set_kind(hostwatch::v1::Sample::GAUGE);
  return link.Publish(env);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f(kTool, argc, argv,
                {"--broker", "--spool-dir", "--endpoint", "--metric", "--high", "--low",
                 "--interval-ms", "--seconds", "--timeout"},
                kUsage);
  if (!f.Has("--broker") || !f.Has("--spool-dir"))
    Die(kTool, "--broker and --spool-dir are required");
  const std::string endpoint = f.Str("--endpoint", "probe");
  const std::string metric = f.Str("--metric", "cpu.busy");
  const double high = f.Num("--high", 99), low = f.Num("--low", 1);
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(f.Num("--interval-ms", 50)));
  const auto run_for = f.Seconds("--seconds", 10);
  const auto timeout = f.Seconds("--timeout", 10);

  hw::transport::ProducerOptions o;
  o.endpoint = endpoint;
  o.component = "probe";
  o.link.brokers = {f.Str("--broker", "")};
  o.link.spool_dir = f.Str("--spool-dir", "");
  auto link = hw::transport::ProducerLink::Start(o);
  if (!link.ok()) Die(kTool, link.status().ToString());
  if (hw::Status s = PublishValue(**link, endpoint, metric, low); !s.ok()) Die(kTool, s.ToString());
  if (!(*link)->WaitAcked(timeout)) {
    std::fprintf(stderr, "%s: the warm-up sample was not acked\n", std::string(kTool).c_str());
    return 1;
  }
  uint64_t probes = 0;
  bool next_high = true;
  const Clock::time_point end = Clock::now() + run_for;
  for (Clock::time_point at = Clock::now(); at < end; at += interval) {
    std::this_thread::sleep_until(at);
    if (hw::Status s = PublishValue(**link, endpoint, metric, next_high ? high : low); !s.ok())
      Die(kTool, s.ToString());
    next_high = !next_high;
    ++probes;
  }
  (void)(*link)->WaitAcked(timeout);
  (*link)->Stop(std::chrono::milliseconds(1000));
  std::printf("{\"tool\": \"hw_bench_probe\", \"probes\": %llu}\n",
              static_cast<unsigned long long>(probes));
  return 0;
}
