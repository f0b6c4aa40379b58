// ZeroMQ endpoint strings as configured ("tcp://127.0.0.1:7400", "tcp://[::1]:7400",
// "ipc:///run/x"). Parsed once at config time so a typo is a config error, not a runtime surprise,
// and so the broker can refuse to expose plaintext sockets beyond loopback (docs/wire_format.md
// §1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::transport {

struct Endpoint {
  std::string scheme;  // "tcp" or "ipc"
  std::string host;    // tcp: address or name without brackets ("::1"); "*" for every interface
  uint16_t port = 0;   // tcp only
  std::string path;    // ipc only

  // True for 127.0.0.0/8, ::1, "localhost" and ipc (a local socket file).
  bool IsLoopback() const;
  std::string ToString() const;
  // The same host with another port: consumers derive the backend (frontend port + 1).
  Endpoint WithPort(uint16_t p) const;
};

Result<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace hw::transport
