#include "cli/tap.h"

#include <zmq.h>

#include "common/transport/zmq_socket.h"

namespace hw::cli {

using transport::ZmqErrorText;
using transport::ZmqMessage;

Result<std::unique_ptr<TapReader>> TapReader::Open(const BrokerOptions& broker,
                                                   const std::vector<std::string>& prefixes) {
  HW_ASSIGN_OR_RETURN(std::string tap, broker.TapEndpoint());
  HW_ASSIGN_OR_RETURN(transport::LinkConfig link, broker.ToLinkConfig());
  std::unique_ptr<TapReader> r(new TapReader());
  r->ctx_ = zmq_ctx_new();
  if (r->ctx_ == nullptr) return Status::Internal("zmq_ctx_new: " + ZmqErrorText());
  r->sock_ = zmq_socket(r->ctx_, ZMQ_SUB);
  if (r->sock_ == nullptr) return Status::Internal("zmq_socket: " + ZmqErrorText());
  HW_RETURN_IF_ERROR(transport::SetSocketInt(r->sock_, ZMQ_LINGER, 0, "ZMQ_LINGER"));
  // A live view wants the newest messages: a small queue drops old ones when we fall behind.
  HW_RETURN_IF_ERROR(transport::SetSocketInt(r->sock_, ZMQ_RCVHWM, 10000, "ZMQ_RCVHWM"));
  if (link.curve.enabled) {
    HW_ASSIGN_OR_RETURN(transport::CurveClientKeys keys,
                        transport::LoadCurveClientKeys(link.curve));
    HW_RETURN_IF_ERROR(transport::ApplyCurveClientKeys(r->sock_, keys));
  }
  if (prefixes.empty()) {
    zmq_setsockopt(r->sock_, ZMQ_SUBSCRIBE, "", 0);
  } else {
    for (const std::string& p : prefixes)
      zmq_setsockopt(r->sock_, ZMQ_SUBSCRIBE, p.data(), p.size());
  }
  if (zmq_connect(r->sock_, tap.c_str()) != 0)
    return Status::InvalidArgument("connect " + tap + ": " + ZmqErrorText());
  return r;
}

TapReader::~TapReader() {
  if (sock_ != nullptr) zmq_close(sock_);
  if (ctx_ != nullptr) zmq_ctx_term(ctx_);
}

Result<std::optional<TapMessage>> TapReader::Next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ZmqMessage topic;
    if (zmq_msg_recv(topic.get(), sock_, ZMQ_DONTWAIT) >= 0) {
      TapMessage m;
      m.topic.assign(static_cast<const char*>(topic.data()), topic.size());
      bool parsed = false;
      bool more = topic.more();
      while (more) {
        ZmqMessage part;
        if (zmq_msg_recv(part.get(), sock_, 0) < 0) break;
        if (!parsed) parsed = m.envelope.ParseFromArray(part.data(), static_cast<int>(part.size()));
        more = part.more();
      }
      if (parsed) return std::optional<TapMessage>(std::move(m));
      ++malformed_;
      continue;
    }
    if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
      return Status::Unavailable("tap: " + ZmqErrorText());
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::optional<TapMessage>();
    zmq_pollitem_t item{sock_, 0, ZMQ_POLLIN, 0};
    const long wait = std::max<long>(
        1, static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count()));
    if (zmq_poll(&item, 1, wait) < 0) {
      if (zmq_errno() == EINTR) return Status::Cancelled("interrupted");
      return Status::Internal("zmq_poll: " + ZmqErrorText());
    }
  }
}

}  // namespace hw::cli
