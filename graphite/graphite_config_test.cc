#include "graphite/graphite_config.h"

#include <gtest/gtest.h>

namespace hw::graphite {
namespace {

TEST(GraphiteConfigTest, DefaultsAreDesignSkeleton) {
  Result<GraphiteConfig> c = LoadGraphiteConfig("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const GraphiteOptions& g = c->graphite;
  ASSERT_EQ(g.destinations.size(), 1u);
  EXPECT_EQ(g.destinations[0].ToString(), "127.0.0.1:2003");
  EXPECT_FALSE(g.relay_all);
  EXPECT_EQ(g.hash, HashType::kCarbonCh);
  EXPECT_EQ(g.replication, 1u);
  EXPECT_TRUE(g.diverse_replicas);
  EXPECT_EQ(g.naming.naming, Naming::kPath);
  EXPECT_EQ(g.naming.prefix, "hostwatch");
  EXPECT_EQ(g.settle, std::chrono::seconds(2));
  EXPECT_EQ(g.spool_max_bytes, 1ull << 30);
  EXPECT_EQ(c->link.group, "graphite");
  EXPECT_EQ(c->link.start, "earliest");
}

TEST(GraphiteConfigTest, DeployExampleLoads) {
  Result<GraphiteConfig> c = LoadGraphiteConfig(HW_SOURCE_DIR "/deploy/config/graphite.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->graphite.destinations.size(), 1u);
  const std::string described = DescribeGraphiteConfig(*c);
  Result<GraphiteConfig> again = ParseGraphiteConfig(described, "described");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << described;
  EXPECT_EQ(DescribeGraphiteConfig(*again), described);
}

TEST(GraphiteConfigTest, ErrorsNameLineAndKey) {
  Result<GraphiteConfig> c = ParseGraphiteConfig(
      "graphite:\n"
      "  destinations: [\"127.0.0.1:2003:a\", \"127.0.0.1:2004:a\", \"nohost\"]\n"
      "  hash: md5\n"
      "  replication: 0\n"
      "  prefix: \"a..b\"\n"
      "  settl: 2s\n",
      "g.yaml");
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_NE(m.find("g.yaml:2: graphite.destinations"), std::string::npos) << m;
  EXPECT_NE(m.find("same host and instance"), std::string::npos) << m;
  EXPECT_NE(m.find("g.yaml:3: graphite.hash"), std::string::npos) << m;
  EXPECT_NE(m.find("g.yaml:4: graphite.replication"), std::string::npos) << m;
  EXPECT_NE(m.find("g.yaml:5: graphite.prefix"), std::string::npos) << m;
  EXPECT_NE(m.find("g.yaml:6"), std::string::npos) << m;  // unknown key
}

TEST(GraphiteConfigTest, Fnv1aNeedsInstances) {
  Result<GraphiteConfig> c = ParseGraphiteConfig(
      "graphite: {hash: fnv1a_ch, destinations: [\"10.0.0.1:2003\", \"10.0.0.2:2003\"]}\n", "g");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("instance"), std::string::npos);
}

}  // namespace
}  // namespace hw::graphite
