// hw_bench_zmq_proxy: a raw ZeroMQ relay as the floor a broker is measured against.
//
// zmq_proxy(XSUB bound at tcp://127.0.0.1:P1, XPUB bound at tcp://127.0.0.1:P2) runs in its own
// thread and its own context (as if it were another process); a PUB connected to the XSUB sends
// 100-byte messages and a SUB connected to the XPUB receives them. High-water marks are 0
// (unlimited) on every socket, so nothing is dropped. Before measuring, the PUB sends probe
// messages until the SUB has seen one (the subscription has propagated through the proxy).
//   throughput (default): N messages as fast as zmq_send takes them;
//     msgs_per_s = received / (first send -> last message received).
//   latency (--rate R): R msgs/s for --seconds S, each payload carrying its send time (steady
//     clock, ns); messages sent in the first --warmup seconds are not counted.
// Prints one JSON line. Exit 0, 1 when not every message arrived, 2 on a usage or socket error.
#include <zmq.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "bench/tools/bench_util.h"

namespace {

using namespace hw::bench;

constexpr std::string_view kTool = "hw_bench_zmq_proxy";
constexpr std::string_view kUsage =
    "usage: hw_bench_zmq_proxy [--xsub-port P1] [--xpub-port P2] [--count N] [--size 100]\n"
    "                          [--rate R --seconds S [--warmup 1]] [--timeout 120]\n"
    "Ports default to 0 (any free port). Throughput (default, N = 1000000) or, with --rate,\n"
    "latency at a fixed rate. One JSON line.\n";

constexpr char kProbe = 'P';
constexpr char kData = 'D';

void Check(int rc, const char* what) {
  if (rc != 0) Die(kTool, std::string(what) + ": " + zmq_strerror(zmq_errno()));
}

void* Socket(void* ctx, int type) {
  void* s = zmq_socket(ctx, type);
  if (s == nullptr) Die(kTool, std::string("zmq_socket: ") + zmq_strerror(zmq_errno()));
  const int zero = 0;
  Check(zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero), "ZMQ_SNDHWM");
  Check(zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero), "ZMQ_RCVHWM");
  Check(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), "ZMQ_LINGER");
  return s;
}

std::string BindLoopback(void* s, uint64_t port) {
  Check(
      zmq_bind(
          s, ("tcp://127.0.0.1:" + (port == 0 ? std::string("*") : std::to_string(port))).c_str()),
      "bind");
  char endpoint[256];
  size_t len = sizeof endpoint;
  Check(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &len), "ZMQ_LAST_ENDPOINT");
  return endpoint;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f(kTool, argc, argv,
                {"--xsub-port", "--xpub-port", "--count", "--size", "--rate", "--seconds",
                 "--warmup", "--timeout"},
                kUsage);
  // Payloads carry a tag byte and the timestamp.
  const LoadShape shape = LoadShape::FromFlags(kTool, f, 9);
  const size_t size = shape.size;
  const bool latency = shape.latency;
  const double rate = shape.rate, warmup = shape.warmup;
  const uint64_t count = shape.count;
  const int64_t timeout_ns = shape.timeout_ns;

  // The relay: its own context and I/O thread.
  void* proxy_ctx = zmq_ctx_new();
  void* xsub = Socket(proxy_ctx, ZMQ_XSUB);
  void* xpub = Socket(proxy_ctx, ZMQ_XPUB);
  const std::string xsub_ep = BindLoopback(xsub, f.Count("--xsub-port", 0));
  const std::string xpub_ep = BindLoopback(xpub, f.Count("--xpub-port", 0));
  void* control = Socket(proxy_ctx, ZMQ_PAIR);
  Check(zmq_bind(control, "inproc://hw-bench-proxy-control"), "bind control");
  void* control_peer = Socket(proxy_ctx, ZMQ_PAIR);
  Check(zmq_connect(control_peer, "inproc://hw-bench-proxy-control"), "connect control");
  std::thread proxy([&] { zmq_proxy_steerable(xsub, xpub, nullptr, control_peer); });

  // The clients.
  void* ctx = zmq_ctx_new();
  void* pub = Socket(ctx, ZMQ_PUB);
  void* sub = Socket(ctx, ZMQ_SUB);
  Check(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), "ZMQ_SUBSCRIBE");
  Check(zmq_connect(sub, xpub_ep.c_str()), "connect sub");
  Check(zmq_connect(pub, xsub_ep.c_str()), "connect pub");

  std::atomic<bool> ready{false};
  std::atomic<bool> sending{false};
  std::atomic<int64_t> t0{0};
  uint64_t received = 0;
  int64_t last_ns = 0;
  Latencies lat;
  if (latency) lat.Reserve(count);
  std::thread receiver([&] {
    const int timeout_ms = 1000;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (received < count) {
      if (zmq_msg_recv(&msg, sub, 0) < 0) {
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR) break;
        if (sending && NowNs() > t0.load() + timeout_ns) break;
        continue;
      }
      const auto* data = static_cast<const char*>(zmq_msg_data(&msg));
      if (zmq_msg_size(&msg) == 0) continue;
      if (data[0] == kProbe) {
        ready = true;
        continue;
      }
      ++received;
      if (latency && zmq_msg_size(&msg) >= 9) {
        int64_t sent;
        std::memcpy(&sent, data + 1, sizeof sent);
        if (sent >= t0.load() + static_cast<int64_t>(warmup * 1e9)) lat.Add(NowNs() - sent);
      }
    }
    last_ns = NowNs();
    zmq_msg_close(&msg);
  });

  // Probe until the subscription has gone SUB -> XPUB -> proxy -> XSUB -> PUB.
  std::string payload(size, 'x');
  payload[0] = kProbe;
  const int64_t probe_deadline = NowNs() + 10'000'000'000;
  while (!ready) {
    if (NowNs() > probe_deadline) Die(kTool, "the subscription did not propagate within 10 s");
    zmq_send(pub, payload.data(), payload.size(), ZMQ_DONTWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the last probes drain
  payload[0] = kData;

  uint64_t sent = 0;
  t0 = NowNs();
  sending = true;
  if (!latency) {
    for (; sent < count; ++sent) {
      if (zmq_send(pub, payload.data(), payload.size(), 0) < 0) Die(kTool, "zmq_send failed");
    }
  } else {
    Pacer pacer(rate, count);
    while (sent < count) {
      const uint64_t due = pacer.Due();
      if (due <= sent) {
        pacer.Wait(sent);
        continue;
      }
      for (; sent < due; ++sent) {
        const int64_t now = NowNs();
        std::memcpy(payload.data() + 1, &now, sizeof now);
        if (zmq_send(pub, payload.data(), payload.size(), 0) < 0) Die(kTool, "zmq_send failed");
      }
    }
  }
  const int64_t pub_done = NowNs();
  receiver.join();

  zmq_send(control, "TERMINATE", 9, 0);
  proxy.join();
  for (void* s : {pub, sub, xsub, xpub, control, control_peer}) zmq_close(s);
  zmq_ctx_term(ctx);
  zmq_ctx_term(proxy_ctx);

  const double elapsed = static_cast<double>(last_ns - t0) / 1e9;
  std::string json =
      "{\"tool\": \"zmq_proxy\", \"mode\": \"" + std::string(latency ? "latency" : "throughput") +
      "\", \"size\": " + std::to_string(size) + ", \"sent\": " + std::to_string(sent) +
      ", \"received\": " + std::to_string(received);
  char num[160];
  std::snprintf(num, sizeof num,
                ", \"elapsed_s\": %.3f, \"msgs_per_s\": %.0f, \"pub_elapsed_s\": %.3f", elapsed,
                elapsed > 0 ? static_cast<double>(received) / elapsed : 0.0,
                static_cast<double>(pub_done - t0) / 1e9);
  json += num;
  if (latency) {
    std::snprintf(num, sizeof num, ", \"rate\": %.0f, \"warmup_s\": %.1f, ", rate, warmup);
    json += num + lat.Json();
  }
  json += "}\n";
  std::fputs(json.c_str(), stdout);
  return received == count ? 0 : 1;
}
