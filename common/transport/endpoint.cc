#include "common/transport/endpoint.h"

#include <arpa/inet.h>

#include <optional>

#include "common/strings/strings.h"

namespace hw::transport {

bool Endpoint::IsLoopback() const {
  if (scheme == "ipc") return true;
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;  // "*", 0.0.0.0, interface names and host names other than localhost
}

std::string Endpoint::ToString() const {
  if (scheme == "ipc") return "ipc://" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Endpoint Endpoint::WithPort(uint16_t p) const {
  Endpoint e = *this;
  e.port = p;
  return e;
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not a ZeroMQ endpoint (" +
                                   std::string(why) + "; e.g. tcp://127.0.0.1:7400)");
  };
  Endpoint ep;
  if (text.starts_with("ipc://")) {
    ep.scheme = "ipc";
    ep.path = std::string(text.substr(6));
    if (ep.path.empty()) return bad("empty ipc path");
    return ep;
  }
  if (!text.starts_with("tcp://")) return bad("only tcp:// and ipc:// are supported");
  std::string_view rest = text.substr(6);
  std::string_view host, port;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("bad [IPv6]:port");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("write IPv6 addresses in brackets");
  }
  if (host.empty()) return bad("missing host");
  const std::optional<uint16_t> value = strings::ParseNumber<uint16_t>(port);
  if (!value || *value == 0) return bad("port must be 1-65535");
  ep.scheme = "tcp";
  ep.host = std::string(host);
  ep.port = *value;
  return ep;
}

}  // namespace hw::transport
