#include "common/transport/endpoint.h"

#include <gtest/gtest.h>

namespace hw::transport {
namespace {

TEST(EndpointTest, ParsesTcpAndIpc) {
  Result<Endpoint> a = ParseEndpoint("tcp://127.0.0.1:7400");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7400);
  EXPECT_EQ(a->ToString(), "tcp://127.0.0.1:7400");
  EXPECT_EQ(a->WithPort(7401).ToString(), "tcp://127.0.0.1:7401");

  Result<Endpoint> b = ParseEndpoint("tcp://[::1]:7402");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->ToString(), "tcp://[::1]:7402");

  Result<Endpoint> c = ParseEndpoint("ipc:///run/hostwatch/broker.sock");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->path, "/run/hostwatch/broker.sock");
}

TEST(EndpointTest, KnowsLoopback) {
  for (const char* ok : {"tcp://127.0.0.1:1", "tcp://127.5.6.7:1", "tcp://[::1]:1",
                         "tcp://localhost:1", "ipc:///tmp/x"}) {
    EXPECT_TRUE(ParseEndpoint(ok)->IsLoopback()) << ok;
  }
  for (const char* no : {"tcp://0.0.0.0:1", "tcp://*:1", "tcp://10.0.0.1:1", "tcp://[::]:1",
                         "tcp://eth0:1", "tcp://example.com:1", "tcp://128.0.0.1:1"}) {
    EXPECT_FALSE(ParseEndpoint(no)->IsLoopback()) << no;
  }
}

TEST(EndpointTest, RejectsMalformed) {
  for (const char* bad : {"", "127.0.0.1:7400", "udp://127.0.0.1:1", "tcp://127.0.0.1",
                          "tcp://:7400", "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536",
                          "tcp://127.0.0.1:80x", "tcp://::1:7400", "tcp://[::1]7400", "ipc://"}) {
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace hw::transport
