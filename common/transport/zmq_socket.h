// The libzmq plumbing both links share (they use the C API for its error values): ownership of
// sockets and messages, CURVE client keys, and socket monitors that say when a connection came,
// went, or failed its handshake.
//
// Threads: like every ZeroMQ socket, each object here belongs to one thread at a time.
#pragma once

#include <zmq.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/status/status.h"
#include "common/transport/link_config.h"

namespace hw::transport {

// zmq_strerror of the calling thread's last libzmq error.
std::string ZmqErrorText();

// Owns a libzmq socket (closes it on destruction).
class ZmqSocket {
 public:
  ZmqSocket() = default;
  explicit ZmqSocket(void* s) : s_(s) {}
  ZmqSocket(ZmqSocket&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  ZmqSocket& operator=(ZmqSocket&& o) noexcept {
    if (this != &o) {
      Close();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ZmqSocket(const ZmqSocket&) = delete;
  ZmqSocket& operator=(const ZmqSocket&) = delete;
  ~ZmqSocket() { Close(); }
  void Close() {
    if (s_ != nullptr) zmq_close(s_);
    s_ = nullptr;
  }
  void* get() const { return s_; }

 private:
  void* s_ = nullptr;
};

// Owns one zmq_msg_t.
class ZmqMessage {
 public:
  ZmqMessage() { zmq_msg_init(&m_); }
  ZmqMessage(const ZmqMessage&) = delete;
  ZmqMessage& operator=(const ZmqMessage&) = delete;
  ~ZmqMessage() { zmq_msg_close(&m_); }
  zmq_msg_t* get() { return &m_; }
  const void* data() { return zmq_msg_data(&m_); }
  size_t size() const { return zmq_msg_size(&m_); }
  bool more() const { return zmq_msg_more(&m_) != 0; }

 private:
  zmq_msg_t m_;
};

// zmq_setsockopt of an int; the error names the option.
Status SetSocketInt(void* socket, int option, int value, const char* name);

// One ZeroMQ context for every link in the process, producer and consumer alike (loadgen runs
// hundreds; a consumer daemon also publishes): created with the first link, terminated with the
// last (zmq_ctx_term then waits for the sockets' linger). nullptr when libzmq cannot make one.
std::shared_ptr<void> SharedZmqContext();

// The options every link socket (a DEALER to a broker) shares: no ZMTP heartbeats, and a bound on
// how long the kernel retransmits to a vanished peer (common/transport/heartbeat.h).
Status ApplyLinkSocketOptions(void* socket);

// Sets the server's public key and this client's keypair (Z85) on a socket before it connects.
Status ApplyCurveClientKeys(void* socket, const CurveClientKeys& keys);

struct MonitorEvent {
  uint16_t id = 0;     // ZMQ_EVENT_*
  uint32_t value = 0;  // the event's value (an errno, a ZAP status, a fd)
  std::string peer;    // the endpoint it concerns
};

// A zmq_socket_monitor on `socket`, read through a PAIR in the same context. Poll get() for
// ZMQ_POLLIN and take events with Next().
class SocketMonitor {
 public:
  // `events` is a ZMQ_EVENT_* mask. Each monitor gets an inproc address of its own.
  static Result<SocketMonitor> Attach(void* ctx, void* socket, int events);
  SocketMonitor() = default;

  void* get() const { return pair_.get(); }
  // The next pending event, or nullopt when none is waiting (never blocks).
  std::optional<MonitorEvent> Next();

 private:
  ZmqSocket pair_;
};

}  // namespace hw::transport
