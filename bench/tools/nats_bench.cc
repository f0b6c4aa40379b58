// hw_bench_nats: a raw-protocol NATS benchmark client (no client library; the protocol is text).
//
// One publisher connection and one subscriber connection to a nats-server on 127.0.0.1:PORT.
//   throughput (default): the publisher pipelines N `PUB bench.subject 100\r\n<100 bytes>\r\n`
//     frames, many per write(2), then flushes with PING/PONG; the subscriber counts MSG frames.
//     msgs_per_s = received / (first write -> last MSG received).
//   latency (--rate R): R msgs/s for --seconds S; each payload starts with the send time (steady
//     clock, ns); the subscriber records receive - send. Messages sent in the first --warmup
//     seconds are not counted.
// Prints one JSON line. Exit 0, 1 when not every message arrived, 2 on a usage or connect error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/tools/bench_util.h"

namespace {

using namespace hw::bench;

constexpr std::string_view kTool = "hw_bench_nats";
constexpr std::string_view kUsage =
    "usage: hw_bench_nats --port P [--count N] [--size 100] [--subject bench.subject]\n"
    "                     [--rate R --seconds S [--warmup 1]] [--timeout 120]\n"
    "Throughput (default, N = 1000000) or, with --rate, latency at a fixed rate. One JSON line.\n";

int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Die(kTool, "connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the Go clients do
  return fd;
}

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) Die(kTool, std::string("write: ") + std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}
void WriteAll(int fd, std::string_view s) { WriteAll(fd, s.data(), s.size()); }

// A read buffer over one connection that parses server frames: INFO, PING, PONG, +OK, -ERR, MSG.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd), buf_(4u << 20) {}

  // Reads more bytes: > 0 read, 0 on EOF, < 0 on an error (errno; EAGAIN after SO_RCVTIMEO).
  ssize_t Fill() {
    if (start_ > 0 && (end_ == buf_.size() || start_ == end_)) {
      std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    for (;;) {
      const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) end_ += static_cast<size_t>(n);
      return n;
    }
  }

  // Reads lines until one that starts with `prefix` (answering PINGs, failing on -ERR).
  std::string WaitLine(std::string_view prefix) {
    for (;;) {
      while (const char* nl = Find('\n')) {
        std::string line(buf_.data() + start_, nl - (buf_.data() + start_));
        start_ = static_cast<size_t>(nl - buf_.data()) + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.starts_with("-ERR")) Die(kTool, "server: " + line);
        if (line == "PING") WriteAll(fd_, "PONG\r\n");
        if (line.starts_with(prefix)) return line;
      }
      if (Fill() <= 0) Die(kTool, "connection closed while waiting for " + std::string(prefix));
    }
  }

  // Parses every complete frame in the buffer; calls on_msg(payload, size) for each MSG, counts
  // PONGs. False when a frame is not understood (the caller dies).
  template <typename OnMsg>
  bool Parse(OnMsg&& on_msg, uint64_t* pongs) {
    for (;;) {
      const size_t avail = end_ - start_;
      if (avail < 6) return true;
      const char* p = buf_.data() + start_;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
      if (nl == nullptr) return true;
      const size_t line_len = static_cast<size_t>(nl - p) + 1;
      if (p[0] == 'M') {         // MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n
        const char* q = nl - 1;  // '\r'
        size_t bytes = 0, mul = 1;
        while (--q > p && *q >= '0' && *q <= '9') {
          bytes += static_cast<size_t>(*q - '0') * mul;
          mul *= 10;
        }
        const size_t total = line_len + bytes + 2;
        if (avail < total) return true;
        on_msg(nl + 1, bytes);
        start_ += total;
      } else {
        const std::string_view line(p, line_len);
        if (line.starts_with("PING")) {
          WriteAll(fd_, "PONG\r\n");
        } else if (line.starts_with("PONG")) {
          ++*pongs;
        } else if (line.starts_with("-ERR")) {
          std::fprintf(stderr, "%s: server: %.*s", kTool.data(), static_cast<int>(line.size()),
                       line.data());
          return false;
        }  // +OK, INFO: ignored
        start_ += line_len;
      }
    }
  }

 private:
  const char* Find(char c) const {
    return static_cast<const char*>(std::memchr(buf_.data() + start_, c, end_ - start_));
  }
  int fd_;
  std::vector<char> buf_;
  size_t start_ = 0, end_ = 0;
};

// INFO, CONNECT, optional SUB, then PING/PONG so the server has processed everything before us.
void Handshake(int fd, Reader& r, const std::string& name, const std::string& sub) {
  r.WaitLine("INFO ");
  std::string hello = "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"" + name +
                      "\",\"lang\":\"c++\",\"version\":\"0.1\",\"protocol\":1}\r\n" + sub +
                      "PING\r\n";
  WriteAll(fd, hello);
  r.WaitLine("PONG");
}

struct SubResult {
  uint64_t received = 0;
  int64_t last_ns = 0;
  bool failed = false;
  Latencies lat;
};

// The subscriber: counts MSG frames (and records latencies) until `expected` or the deadline.
void Subscribe(int fd, Reader& r, uint64_t expected, bool latency, int64_t measure_from_ns,
               int64_t timeout_ns, SubResult* out) {
  uint64_t pongs = 0;
  const int64_t deadline = NowNs() + timeout_ns;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto on_msg = [&](const char* payload, size_t size) {
    ++out->received;
    if (latency && size >= 8) {
      int64_t sent;
      std::memcpy(&sent, payload, sizeof sent);
      if (sent >= measure_from_ns) out->lat.Add(NowNs() - sent);
    }
  };
  while (out->received < expected) {
    if (!r.Parse(on_msg, &pongs)) {
      out->failed = true;
      break;
    }
    if (out->received >= expected) break;
    const ssize_t n = r.Fill();
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      out->failed = true;
      break;
    }
    if (NowNs() > deadline) break;
  }
  out->last_ns = NowNs();
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f(
      kTool, argc, argv,
      {"--port", "--count", "--size", "--subject", "--rate", "--seconds", "--warmup", "--timeout"},
      kUsage);
  if (!f.Has("--port")) Die(kTool, "--port is required");
  const auto port = static_cast<uint16_t>(f.Count("--port", 0));
  // Payloads carry the timestamp.
  const LoadShape shape = LoadShape::FromFlags(kTool, f, 8);
  const size_t size = shape.size;
  const bool latency = shape.latency;
  const double rate = shape.rate, warmup = shape.warmup;
  const uint64_t count = shape.count;
  const int64_t timeout_ns = shape.timeout_ns;
  const std::string subject = f.Str("--subject", "bench.subject");

  const int sub_fd = Connect(port);
  Reader sub_reader(sub_fd);
  Handshake(sub_fd, sub_reader, "hw-bench-sub", "SUB " + subject + " 1\r\n");
  const int pub_fd = Connect(port);
  Reader pub_reader(pub_fd);
  Handshake(pub_fd, pub_reader, "hw-bench-pub", "");

  const std::string header = "PUB " + subject + " " + std::to_string(size) + "\r\n";
  const size_t frame = header.size() + size + 2;
  std::string payload(size, 'x');

  SubResult result;
  if (latency) result.lat.Reserve(count);
  const int64_t t0 = NowNs();
  const int64_t measure_from = t0 + static_cast<int64_t>(warmup * 1e9);
  std::thread sub(
      [&] { Subscribe(sub_fd, sub_reader, count, latency, measure_from, timeout_ns, &result); });

  std::string buf;
  uint64_t sent = 0;
  if (!latency) {
    // The same frame over and over: ~2,000 frames (256 KiB) per write.
    std::string chunk;
    const size_t per_chunk = std::max<size_t>(1, (256u << 10) / frame);
    for (size_t i = 0; i < per_chunk; ++i) chunk += header + payload + "\r\n";
    while (sent < count) {
      const uint64_t n = std::min<uint64_t>(per_chunk, count - sent);
      WriteAll(pub_fd, chunk.data(), n * frame);
      sent += n;
    }
  } else {
    Pacer pacer(rate, count);
    while (sent < count) {
      const uint64_t due = pacer.Due();
      if (due <= sent) {
        pacer.Wait(sent);
        continue;
      }
      buf.clear();
      const int64_t now = NowNs();
      std::memcpy(payload.data(), &now, sizeof now);
      for (; sent < due; ++sent) buf += header + payload + "\r\n";
      WriteAll(pub_fd, buf);
    }
  }
  WriteAll(pub_fd, "PING\r\n");  // flush: the server has read every PUB when the PONG comes
  pub_reader.WaitLine("PONG");
  const int64_t pub_done = NowNs();
  sub.join();

  const double elapsed = static_cast<double>(result.last_ns - t0) / 1e9;
  const double pub_elapsed = static_cast<double>(pub_done - t0) / 1e9;
  std::string json =
      "{\"tool\": \"nats\", \"mode\": \"" + std::string(latency ? "latency" : "throughput") +
      "\", \"size\": " + std::to_string(size) + ", \"sent\": " + std::to_string(sent) +
      ", \"received\": " + std::to_string(result.received);
  char num[160];
  std::snprintf(num, sizeof num,
                ", \"elapsed_s\": %.3f, \"msgs_per_s\": %.0f, \"pub_elapsed_s\": %.3f", elapsed,
                elapsed > 0 ? static_cast<double>(result.received) / elapsed : 0.0, pub_elapsed);
  json += num;
  if (latency) {
    std::snprintf(num, sizeof num, ", \"rate\": %.0f, \"warmup_s\": %.1f, ", rate, warmup);
    json += num + result.lat.Json();
  }
  json += "}\n";
  std::fputs(json.c_str(), stdout);
  ::close(pub_fd);
  ::close(sub_fd);
  return result.received == count && !result.failed ? 0 : 1;
}
