// A datagram socket standing in for systemd's notify socket (sd_notify(3)): a test binds it, gives
// its path to a daemon as NOTIFY_SOCKET, and reads what the daemon reported (READY=1,
// WATCHDOG=1, STOPPING=1, STATUS=...). Not thread-safe.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace hw::testing {

class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path.string()) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && path_.size() < sizeof(addr.sun_path) &&
             ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }
  // Everything received so far, one message per line.
  const std::string& Drain() {
    char buf[512];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_.append(buf, static_cast<size_t>(n));
      received_ += '\n';
    }
    return received_;
  }
  // How many messages so far were exactly `line` (e.g. "WATCHDOG=1").
  int Count(const std::string& line) {
    const std::string& all = Drain();
    int n = 0;
    for (size_t at = 0; (at = all.find(line + "\n", at)) != std::string::npos; at += line.size()) {
      if (at == 0 || all[at - 1] == '\n') ++n;
    }
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::string received_;
};

}  // namespace hw::testing
