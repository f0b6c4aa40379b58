#include "common/transport/zmq_socket.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/base/mutex.h"
#include "common/transport/heartbeat.h"

namespace hw::transport {

std::string ZmqErrorText() { return zmq_strerror(zmq_errno()); }

Status SetSocketInt(void* socket, int option, int value, const char* name) {
  if (zmq_setsockopt(socket, option, &value, sizeof value) != 0) {
    return Status::Internal(std::string("zmq_setsockopt ") + name + ": " + ZmqErrorText());
  }
  return Status::Ok();
}

namespace {
struct SharedContextState {
  Mutex mu;
  std::weak_ptr<void> weak GUARDED_BY(mu);
};
}  // namespace

std::shared_ptr<void> SharedZmqContext() {
  static auto* state = new SharedContextState;  // leaked on purpose: no exit-time destructor
  MutexLock lock(&state->mu);
  std::shared_ptr<void> ctx = state->weak.lock();
  if (!ctx) {
    void* raw = zmq_ctx_new();
    if (raw == nullptr) return nullptr;
    ctx = std::shared_ptr<void>(raw, [](void* c) {
      while (zmq_ctx_term(c) != 0 && zmq_errno() == EINTR) {
      }
    });
    state->weak = ctx;
  }
  return ctx;
}

Status ApplyLinkSocketOptions(void* socket) {
  // ZMQ_HEARTBEAT_IVL stays 0: the links heartbeat only when idle, themselves (heartbeat.h).
  return SetSocketInt(socket, ZMQ_TCP_MAXRT, kTcpMaxRetransmitMs, "ZMQ_TCP_MAXRT");
}

Status ApplyCurveClientKeys(void* socket, const CurveClientKeys& keys) {
  // Z85 text plus its NUL: 41 bytes is how libzmq tells Z85 from a 32-byte binary key.
  const std::pair<int, const std::string*> opts[] = {{ZMQ_CURVE_SERVERKEY, &keys.server_public_key},
                                                     {ZMQ_CURVE_PUBLICKEY, &keys.public_key},
                                                     {ZMQ_CURVE_SECRETKEY, &keys.secret_key}};
  for (const auto& [opt, key] : opts) {
    if (zmq_setsockopt(socket, opt, key->c_str(), key->size() + 1) != 0) {
      return Status::InvalidArgument("CURVE key rejected by libzmq: " + ZmqErrorText());
    }
  }
  return Status::Ok();
}

Result<SocketMonitor> SocketMonitor::Attach(void* ctx, void* socket, int events) {
  static std::atomic<uint64_t> next_id{0};
  const std::string address = "inproc://hostwatch-monitor-" + std::to_string(++next_id);
  if (zmq_socket_monitor(socket, address.c_str(), events) != 0) {
    return Status::Internal("zmq_socket_monitor: " + ZmqErrorText());
  }
  SocketMonitor m;
  m.pair_ = ZmqSocket(zmq_socket(ctx, ZMQ_PAIR));
  if (m.pair_.get() == nullptr) return Status::Internal("zmq_socket: " + ZmqErrorText());
  HW_RETURN_IF_ERROR(SetSocketInt(m.pair_.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  if (zmq_connect(m.pair_.get(), address.c_str()) != 0) {
    return Status::Internal("connect " + address + ": " + ZmqErrorText());
  }
  return m;
}

std::optional<MonitorEvent> SocketMonitor::Next() {
  // Each event is two frames: [u16 event][u32 value], then the endpoint.
  for (;;) {
    ZmqMessage head;
    if (zmq_msg_recv(head.get(), pair_.get(), ZMQ_DONTWAIT) < 0) return std::nullopt;
    MonitorEvent ev;
    if (head.more()) {
      ZmqMessage addr;
      if (zmq_msg_recv(addr.get(), pair_.get(), 0) >= 0) {
        ev.peer.assign(static_cast<const char*>(addr.data()), addr.size());
      }
    }
    if (head.size() < 6) continue;
    std::memcpy(&ev.id, head.data(), sizeof ev.id);
    std::memcpy(&ev.value, static_cast<const char*>(head.data()) + 2, sizeof ev.value);
    return ev;
  }
}

}  // namespace hw::transport
