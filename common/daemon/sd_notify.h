// systemd's notify protocol (Type=notify): READY=1 once serving, WATCHDOG=1 pings, STOPPING=1.
// Written against the documented datagram protocol rather than libsystemd, so hosts without
// systemd need nothing extra. A no-op when NOTIFY_SOCKET is unset.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::daemon {

class SdNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC (honouring WATCHDOG_PID when set).
  static SdNotifier FromEnvironment();
  SdNotifier() = default;
  SdNotifier(std::string socket_path, std::optional<std::chrono::microseconds> watchdog)
      : socket_path_(std::move(socket_path)), watchdog_(watchdog) {}

  bool enabled() const { return !socket_path_.empty(); }
  // Sends one datagram, e.g. "READY=1". OK and nothing sent when disabled.
  Status Notify(std::string_view state) const;
  // How often to send WATCHDOG=1: half the watchdog timeout, as systemd recommends.
  std::optional<std::chrono::milliseconds> WatchdogPingInterval() const;

 private:
  std::string socket_path_;  // "@name" is an abstract socket
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace hw::daemon
