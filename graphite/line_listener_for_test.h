// Test-only: a carbon stand-in for the graphite logic tests.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/base/mutex.h"

namespace hw::graphite {

// A carbon stand-in for the logic tests: accepts on 127.0.0.1, one connection at a time, and
// keeps every byte received. DropConnection() closes the current connection (carbon restarting
// with our lines unread), Stop()/Listen() take the port away and give it back.
class LineListener {
 public:
  LineListener() { Listen(0); }
  ~LineListener() { Stop(); }

  void Listen(uint16_t port) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(::listen(lfd_, 8), 0);
    socklen_t len = sizeof(a);
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    {
      MutexLock lock(&mu_);
      stop_ = false;
    }
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
    if (lfd_ >= 0) ::close(lfd_);
    lfd_ = -1;
  }
  void DropConnection() {
    MutexLock lock(&mu_);
    drop_ = true;
  }
  std::string received() const {
    MutexLock lock(&mu_);
    return received_;
  }
  uint16_t port() const { return port_; }

 private:
  void Run() {
    int cfd = -1;
    for (;;) {
      {
        MutexLock lock(&mu_);
        if (stop_) break;
        if (drop_ && cfd >= 0) {
          ::close(cfd);
          cfd = -1;
        }
        drop_ = false;
      }
      pollfd p{cfd >= 0 ? cfd : lfd_, POLLIN, 0};
      if (::poll(&p, 1, 5) <= 0) continue;
      if (cfd < 0) {
        cfd = ::accept(lfd_, nullptr, nullptr);
        continue;
      }
      char buf[4096];
      ssize_t n = ::read(cfd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(cfd);
        cfd = -1;
        continue;
      }
      MutexLock lock(&mu_);
      received_.append(buf, static_cast<size_t>(n));
    }
    if (cfd >= 0) ::close(cfd);
  }

  int lfd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable Mutex mu_;
  std::string received_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  bool drop_ GUARDED_BY(mu_) = false;
};

}  // namespace hw::graphite
