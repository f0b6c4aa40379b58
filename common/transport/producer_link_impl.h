// Internal to the producer link: what producer_link.cc (the API, start-up recovery) and
// producer_link_thread.cc (the link thread: sockets, acks, timers) share. See producer_link.cc for
// the protocol and the threads.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/base/mutex.h"
#include "common/daemon/logging.h"
#include "common/naming/envelope_wire.h"
#include "common/naming/naming.h"
#include "common/spool/spool.h"
#include "common/strings/fnv1a.h"
#include "common/strings/strings.h"
#include "common/transport/broker_choice.h"
#include "common/transport/endpoint.h"
#include "common/transport/heartbeat.h"
#include "common/transport/producer_link.h"
#include "common/transport/send_window.h"
#include "common/transport/zmq_socket.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::transport {
// Named, not anonymous: both files use these. Nothing outside common/transport includes this
// header.
namespace producer_internal {

namespace pb = hostwatch::v1;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The broker's default max_message_bytes (wire_format.md §7). libzmq drops a bigger frame without
// an Ack, so such a record would be resent forever: refuse it in Publish instead.
inline constexpr size_t kMaxEnvelopeBytes = 4u << 20;
inline constexpr int kHighWaterMark = 100000;
inline constexpr milliseconds kErrorPause{50};        // after a failed zmq_poll: never spin
inline constexpr milliseconds kMaxPollTimeout{1000};  // the longest sleep, even with no timer due
inline constexpr milliseconds kLogPeriod{10000};      // RepeatLimiter period for repeated problems
inline constexpr std::string_view kMetaMagic = "hostwatch producer spool v1";

// Appends Envelope.sent_ms (field 4, varint) to serialized envelope bytes.
inline void AppendSentMs(int64_t ms, std::string* bytes) {
  bytes->push_back(static_cast<char>((4 << 3) | 0));
  auto v = static_cast<uint64_t>(ms);
  while (v >= 0x80) {
    bytes->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  bytes->push_back(static_cast<char>(v));
}

inline int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline uint64_t RandomEpoch(uint64_t avoid) {
  std::random_device rd;
  for (;;) {
    const uint64_t e = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    if (e != 0 && e != avoid) return e;
  }
}

// "hostwatch producer spool v1\nepoch <16 hex>\nbase <decimal>\n"
struct Meta {
  uint64_t epoch = 0;
  uint64_t base = 0;
};

inline std::string EncodeMeta(const Meta& m) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s\nepoch %016llx\nbase %llu\n", kMetaMagic.data(),
                static_cast<unsigned long long>(m.epoch), static_cast<unsigned long long>(m.base));
  return buf;
}

inline std::optional<Meta> DecodeMeta(std::string_view text) {
  auto take_line = [&text]() {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return line;
  };
  auto parse = [](std::string_view line, std::string_view key, int base, uint64_t* out) {
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ')
      return false;
    std::optional<uint64_t> v = strings::ParseNumber<uint64_t>(line.substr(key.size() + 1), base);
    if (v) *out = *v;
    return v.has_value();
  };
  Meta m;
  if (take_line() != kMetaMagic) return std::nullopt;
  if (!parse(take_line(), "epoch", 16, &m.epoch) || m.epoch == 0) return std::nullopt;
  if (!parse(take_line(), "base", 10, &m.base)) return std::nullopt;
  return m;
}

inline std::string ZmqError(std::string_view what) {
  return std::string(what) + ": " + ZmqErrorText();
}

}  // namespace producer_internal
using namespace producer_internal;  // the two files of the link only

struct ProducerLink::Impl {
  explicit Impl(const ProducerOptions& o)
      : options(o),
        window(o.link.window, static_cast<int64_t>(o.resend_timeout.count())),
        choice(o.endpoint, o.link.brokers.size(), o.failover_after) {}

  ProducerOptions options;
  const hw::Clock* clock = &RealClock();
  std::string source;
  std::string validation_header;  // Envelope{source, seq: 1}, serialized: Publish validates with it
  std::optional<CurveClientKeys> curve;
  std::shared_ptr<void> ctx;
  int wake_fd = -1;
  std::atomic<bool> wake_pending{false};
  std::thread thread;
  bool thread_started = false;  // Stop() only; not shared

  mutable Mutex mu;
  CondVar settled_cv;  // signalled when base + acked_seq grows
  // The members from here to the link thread's are guarded by mu.
  std::unique_ptr<spool::Spool> spool GUARDED_BY(mu);
  // Epoch, numbering, acks, go-back-N and the resend timer (send_window.h).
  SendWindow window GUARDED_BY(mu);
  bool release_pending GUARDED_BY(mu) = false;
  // Spool stats().dropped_records when last checked.
  uint64_t seen_spool_dropped GUARDED_BY(mu) = 0;
  // Unacked records gone from the spool (ProducerStats.spool_dropped).
  uint64_t lost GUARDED_BY(mu) = 0;
  uint64_t published GUARDED_BY(mu) = 0;
  uint64_t heartbeats GUARDED_BY(mu) = 0;
  size_t broker_index GUARDED_BY(mu) = 0;
  bool appended_since_sync GUARDED_BY(mu) = false;
  bool stopping GUARDED_BY(mu) = false;
  bool stopped GUARDED_BY(mu) = false;
  pb::Envelope header GUARDED_BY(mu);  // source set once; epoch and seq per frame
  daemon::RepeatLimiter reject_log GUARDED_BY(mu){kLogPeriod};
  daemon::RepeatLimiter error_log GUARDED_BY(mu){kLogPeriod};
  // --- link thread only (and Start, before the thread exists) ---
  ZmqSocket socket;
  std::optional<SocketMonitor> monitor;  // the socket's connection events (none: just not logged)
  daemon::RepeatLimiter connection_log{kLogPeriod};
  Clock::time_point last_sync;
  // Which broker, failover and failback, and the current connection's heartbeats and silence.
  BrokerChoice choice;

  ~Impl() {
    CloseSocket();
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // The link's monotonic time (options.clock), as a steady_clock time point so that the timers
  // keep their types; a fake clock in tests moves them.
  Clock::time_point Now() const { return Clock::time_point(milliseconds(clock->MonoMs())); }
  static int64_t Ms(Clock::time_point t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
  }

  void Wake() {
    const uint64_t one = 1;
    ssize_t n = ::write(wake_fd, &one, sizeof one);
    (void)n;  // EAGAIN only when the counter is saturated: the thread is awake anyway
  }

  uint64_t SettledIndex() const REQUIRES(mu) { return window.settled_index(); }

  // How long the link thread may sleep in zmq_poll: until the earliest timer that can fall due
  // (resend, failover, CURVE retry, failback, spool sync), at most kMaxPollTimeout. Publish, acks,
  // POLLOUT, connection events and Stop wake the thread by themselves, so a producer that
  // publishes once a second wakes a few times a second, not every 50 ms. Link thread only (it
  // reads the thread's own timers).
  milliseconds PollTimeout(Clock::time_point now) const REQUIRES(mu);

  Status OpenSocket(size_t index);
  void CloseSocket();
  void LogConnectionEvents();
  void LogSwitch(const BrokerChoice::Switch& sw);
  void Run() EXCLUDES(mu);

  void StartEpoch(uint64_t new_base, std::string_view why) REQUIRES(mu);
  void CheckLost() REQUIRES(mu);
  void HandleAck(const pb::Ack& ack, Clock::time_point now) REQUIRES(mu);
  void BuildFrames(std::vector<std::string>* frames, uint64_t* first_seq) REQUIRES(mu);
  bool CanSend(bool* caught_up) const REQUIRES(mu) {
    return window.CanSend(spool->next_index(), caught_up);
  }
};

}  // namespace hw::transport
