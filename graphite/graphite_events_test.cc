#include "graphite/graphite_events.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace hw::graphite {
namespace {

TEST(GraphiteEventsTest, JsonCarriesTheDashboardTagsAndEscapesText) {
  hostwatch::v1::Alert a;
  a.set_rule("log \"oom\"");
  a.set_state(hostwatch::v1::Alert::RESOLVED);
  a.set_severity(hostwatch::v1::WARNING);
  a.set_endpoint("db-1");
  a.set_value(0.5);
  a.set_summary("line1\nline2\t\\ \x01");
  a.set_time_ms(1795301100999);
  EXPECT_EQ(GraphiteEventJson(a),
            "{\"what\":\"[RESOLVED] log \\\"oom\\\" on db-1\",\"tags\":[\"hostwatch\",\"alert\","
            "\"resolved\",\"warning\",\"log_\\\"oom\\\"\",\"db-1\"],\"when\":1795301100,"
            "\"data\":\"line1\\nline2\\t\\\\ \\u0001 (value 0.5)\"}");
  a.set_time_ms(0);
  EXPECT_EQ(GraphiteEventJson(a).find("\"when\""), std::string::npos);
}

// A loopback HTTP server that answers every request with `status` after `delay`, counting them.
class TinyHttp {
 public:
  TinyHttp(int status, std::chrono::milliseconds delay) : status_(status), delay_(delay) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "listen: " << std::strerror(errno);
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TinyHttp() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      // Read to the end of the body (Content-Length), then answer.
      std::string in;
      char buf[4096];
      for (;;) {
        const size_t head = in.find("\r\n\r\n");
        if (head != std::string::npos) {
          const size_t cl = in.find("Content-Length: ");
          const size_t want = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
          if (in.size() >= head + 4 + want) break;
        }
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      std::this_thread::sleep_for(delay_);  // the slow server under test, not a wait for luck
      ++requests_;
      const std::string reply = "HTTP/1.1 " + std::to_string(status_) +
                                " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, reply.data(), reply.size());
      ::close(c);
    }
  }
  const int status_;
  const std::chrono::milliseconds delay_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

hostwatch::v1::AlertBatch ThreeAlerts() {
  hostwatch::v1::AlertBatch b;
  for (int i = 0; i < 3; ++i) {
    hostwatch::v1::Alert* a = b.add_alerts();
    a->set_rule("cpu_high");
    a->set_state(hostwatch::v1::Alert::FIRING);
    a->set_endpoint("web-" + std::to_string(i));
    a->set_time_ms(1795301100000);
  }
  return b;
}

// A stop waits for the queued posts, so their batches are finished (and committed) rather than
// posted again after the restart.
TEST(GraphiteEventsTest, DrainWaitsForQueuedPosts) {
  TinyHttp web(200, std::chrono::milliseconds(100));
  GraphiteEvents events(web.url(), std::chrono::seconds(5));
  events.Post(ThreeAlerts(), 7);
  events.Post(ThreeAlerts(), 8);
  ASSERT_TRUE(events.Drain(std::chrono::seconds(20)));
  EXPECT_EQ(web.requests(), 6);
  EXPECT_EQ(events.posted.load(), 6u);
  EXPECT_EQ(events.TakeDone(), (std::vector<uint64_t>{7, 8}));
}

TEST(GraphiteEventsTest, DrainGivesUpAtItsDeadline) {
  TinyHttp web(200, std::chrono::milliseconds(3000));
  GraphiteEvents events(web.url(), std::chrono::seconds(10));
  events.Post(ThreeAlerts(), 7);
  EXPECT_FALSE(events.Drain(std::chrono::milliseconds(200)));
  EXPECT_TRUE(events.TakeDone().empty());
}

}  // namespace
}  // namespace hw::graphite
