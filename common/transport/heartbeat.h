// Heartbeats for both links and the broker: one set of constants, and the rule that decides when a
// link heartbeats and when it takes its broker for gone (docs/wire_format.md §4 and §5).
//
// Rules:
//   - Any message is proof of life: an envelope, an ack, a credit, a commit, a delivery. A link
//     sends a heartbeat to a broker only when it has sent that broker nothing for `idle`; a busy
//     link never heartbeats.
//   - A link that has sent a broker something and heard nothing back for `silence` takes the
//     connection for dead (a half-open TCP connection, a hung broker) and opens a new one.
//   - No ZMTP heartbeats (ZMQ_HEARTBEAT_IVL) on our sockets: libzmq pings every interval whether
//     or not data flows, and those pings were a fifth of the collector's CPU and most of an idle
//     broker's (issue 11). libzmq still answers a peer's PING with a PONG, so an older peer that
//     pings every second keeps working against a new one, and a new one against an older one.
//   - The kernel watches what no message can: TCP keepalive on the broker's sockets finds a peer
//     whose host died while it was idle (the broker sends nothing unasked), and ZMQ_TCP_MAXRT on
//     the links' sockets bounds how long unacknowledged TCP data waits before the kernel gives up
//     on a connection, so libzmq reconnects.
//
// PeerLiveness is pure: the caller tells it what was sent and heard, with a monotonic time in ms
// (hw::Clock::MonoMs), and asks it what is due. Thread-safety: none; one owner thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

namespace hw::transport {

struct HeartbeatTiming {
  std::chrono::milliseconds idle;     // heartbeat after sending nothing for this long
  std::chrono::milliseconds silence;  // sent something, heard nothing for this long: reconnect
};

// Producers: the envelopes are the traffic; a heartbeat only keeps an idle connection known to be
// alive, so that the next envelope does not wait for a dead one. 15 s is longer than a collector's
// usual 10 s interval, so a collector never heartbeats at all.
inline constexpr HeartbeatTiming kProducerHeartbeat{std::chrono::seconds(15),
                                                    std::chrono::seconds(5)};
// Consumers: the broker drops a member silent for kMemberTimeout, so an idle consumer must speak
// well within it (brokers before this version use the same 5 s).
inline constexpr HeartbeatTiming kConsumerHeartbeat{std::chrono::seconds(1),
                                                    std::chrono::seconds(3)};
inline constexpr std::chrono::milliseconds kMemberTimeout{5000};

// The kernel's part (see the rules above).
inline constexpr int kTcpMaxRetransmitMs = 15000;  // ZMQ_TCP_MAXRT on the links' sockets
inline constexpr int kTcpKeepaliveIdleS = 60;      // the broker's sockets: probe after 60 s idle,
inline constexpr int kTcpKeepaliveIntervalS = 10;  // every 10 s,
inline constexpr int kTcpKeepaliveCount = 3;       // and give up after 3 unanswered probes

class PeerLiveness {
 public:
  explicit PeerLiveness(HeartbeatTiming timing) : timing_(timing) {}

  // A new connection (or socket): nothing sent or owed yet; the first heartbeat is `idle` away.
  void Reset(int64_t now_ms) {
    last_sent_ms_ = now_ms;
    awaiting_ = false;
  }
  // Any message to the peer (a heartbeat too).
  void Sent(int64_t now_ms) {
    last_sent_ms_ = now_ms;
    if (!awaiting_) {
      awaiting_ = true;
      awaiting_since_ms_ = now_ms;
    }
  }
  // Any message from the peer.
  void Heard() { awaiting_ = false; }
  // A heartbeat was due but there was nothing to send it on (not connected): the next one is
  // `idle` from now, and what is owed stays owed.
  void Skipped(int64_t now_ms) { last_sent_ms_ = now_ms; }

  bool HeartbeatDue(int64_t now_ms) const { return now_ms - last_sent_ms_ >= Ms(timing_.idle); }
  // Something was sent and nothing has been heard since, for `silence`.
  bool Silent(int64_t now_ms) const {
    return awaiting_ && now_ms - awaiting_since_ms_ >= Ms(timing_.silence);
  }
  // When HeartbeatDue or Silent next becomes true (for a poll timeout).
  int64_t NextDueMs() const {
    int64_t due = last_sent_ms_ + Ms(timing_.idle);
    if (awaiting_) due = std::min(due, awaiting_since_ms_ + Ms(timing_.silence));
    return due;
  }
  bool awaiting() const { return awaiting_; }

 private:
  static int64_t Ms(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); }

  HeartbeatTiming timing_;
  int64_t last_sent_ms_ = 0;
  int64_t awaiting_since_ms_ = 0;
  bool awaiting_ = false;
};

}  // namespace hw::transport
