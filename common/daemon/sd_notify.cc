#include "common/daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace hw::daemon {

SdNotifier SdNotifier::FromEnvironment() {
  const char* sock = std::getenv("NOTIFY_SOCKET");
  if (sock == nullptr || *sock == '\0') return SdNotifier();
  std::optional<std::chrono::microseconds> watchdog;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* wpid = std::getenv("WATCHDOG_PID");
  bool for_us = true;
  if (wpid != nullptr && *wpid != '\0') {
    long pid = 0;
    std::from_chars(wpid, wpid + std::strlen(wpid), pid);
    for_us = pid == static_cast<long>(getpid());
  }
  if (usec != nullptr && for_us) {
    long long v = 0;
    auto [p, ec] = std::from_chars(usec, usec + std::strlen(usec), v);
    if (ec == std::errc() && v > 0) watchdog = std::chrono::microseconds(v);
  }
  return SdNotifier(sock, watchdog);
}

Status SdNotifier::Notify(std::string_view state) const {
  if (!enabled()) return Status::Ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("NOTIFY_SOCKET path too long");
  }
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  if (socket_path_[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace; the length, not a NUL, ends the name
  } else {
    len += 1;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("sd_notify socket", errno);
  ssize_t n =
      sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  int err = errno;
  close(fd);
  if (n < 0) return Status::IoError("sd_notify send to " + socket_path_, err);
  return Status::Ok();
}

std::optional<std::chrono::milliseconds> SdNotifier::WatchdogPingInterval() const {
  if (!watchdog_) return std::nullopt;
  auto half = std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog_) / 2;
  return half.count() > 0 ? half : std::chrono::milliseconds(1);
}

}  // namespace hw::daemon
