#include "rediscache/rediscache_config.h"

#include <gtest/gtest.h>

namespace hw::rediscache {
namespace {

TEST(RedisCacheConfig, DeployExampleLoads) {
  Result<RedisCacheConfig> c = LoadRedisCacheConfig(HW_SOURCE_DIR "/deploy/config/rediscache.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->prefix, "hw:");
  EXPECT_EQ(c->link.start, "earliest");
}

TEST(RedisCacheConfig, DefaultsAreTheSkeletons) {
  Result<RedisCacheConfig> c = LoadRedisCacheConfig("");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->addresses.size(), 1u);
  EXPECT_EQ(c->addresses[0].ToString(), "127.0.0.1:6379");
  EXPECT_EQ(c->history_points, 60u);
  EXPECT_EQ(c->events_maxlen, 1000u);
  EXPECT_EQ(c->host_ttl, std::chrono::hours(168));
  EXPECT_FALSE(c->cluster());
  Result<RedisCacheConfig> again = ParseRedisCacheConfig(DescribeRedisCacheConfig(*c), "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

TEST(RedisCacheConfig, ErrorsNameLineAndKey) {
  Result<RedisCacheConfig> c = ParseRedisCacheConfig(
      "rediscache:\n  redis: [\"redis://u:p@h:1\"]\n  prefix: \"a{b\"\n  tiemout: 2s\n", "r.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("r.yaml:2: rediscache.redis"), std::string::npos) << m;
  EXPECT_NE(m.find("r.yaml:3: rediscache.prefix"), std::string::npos) << m;
  EXPECT_NE(m.find("tiemout"), std::string::npos) << m;
}

TEST(RedisCacheConfig, Urls) {
  EXPECT_EQ(ParseRedisUrl("redis://10.0.0.1:7000")->ToString(), "10.0.0.1:7000");
  EXPECT_EQ(ParseRedisUrl("localhost")->port, 6379);
  EXPECT_EQ(ParseRedisUrl("[::1]:7001")->host, "::1");
  EXPECT_FALSE(ParseRedisUrl("rediss://h:1").ok());
  EXPECT_FALSE(ParseRedisUrl("redis://h:99999").ok());
}

}  // namespace
}  // namespace hw::rediscache
