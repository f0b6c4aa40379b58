#include "broker/broker_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hw::broker {
namespace {

using ::testing::HasSubstr;

TEST(BrokerConfigTest, DefaultsMatchTheDesign) {
  Result<BrokerConfig> c = LoadBrokerConfig("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->frontend, "tcp://127.0.0.1:7400");
  EXPECT_EQ(c->backend, "tcp://127.0.0.1:7401");
  EXPECT_EQ(c->tap, "tcp://127.0.0.1:7402");
  EXPECT_EQ(c->partitions, 4u);
  EXPECT_EQ(c->segment_bytes, 64ull << 20);
  EXPECT_EQ(c->retention_age, std::chrono::hours(168));
  EXPECT_EQ(c->fsync, "interval");
  EXPECT_EQ(c->max_message_bytes, 4ull << 20);
  EXPECT_FALSE(c->curve.enabled);
}

TEST(BrokerConfigTest, ShippedExampleLoads) {
  Result<BrokerConfig> c = LoadBrokerConfig(HW_SOURCE_DIR "/deploy/config/broker.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->fsync_interval, std::chrono::milliseconds(100));
}

TEST(BrokerConfigTest, EffectiveConfigRoundTrips) {
  Result<BrokerConfig> c = ParseBrokerConfig(
      "broker: {partitions: 8, fsync: always, retention_age: 2d}\n"
      "curve: {enabled: true, secret_key_file: b.key, public_key_file: b.pub, authorized_keys_dir: "
      "keys,\n"
      "        bindings: {game-01: [game-01, game-01b]}, consumer_keys_dir: ckeys,\n"
      "        group_bindings: {ops: [alerter, 'ops-*']}}\n",
      "broker.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<BrokerConfig> again = ParseBrokerConfig(DescribeBrokerConfig(*c), "effective");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << DescribeBrokerConfig(*c);
  EXPECT_EQ(again->partitions, 8u);
  EXPECT_EQ(again->fsync, "always");
  EXPECT_EQ(again->retention_age, std::chrono::hours(48));
  EXPECT_EQ(again->curve.bindings.at("game-01"), (std::vector<std::string>{"game-01", "game-01b"}));
  EXPECT_EQ(again->curve.consumer_keys_dir, "ckeys");
  EXPECT_EQ(again->curve.group_bindings.at("ops"), (std::vector<std::string>{"alerter", "ops-*"}));
}

TEST(BrokerConfigTest, RefusesPlaintextBeyondLoopback) {
  Result<BrokerConfig> c =
      ParseBrokerConfig("broker:\n  frontend: tcp://0.0.0.0:7400\n", "broker.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("broker.yaml:2: broker.frontend: binds tcp://0.0.0.0:7400"));

  EXPECT_TRUE(
      ParseBrokerConfig("broker: {frontend: 'tcp://0.0.0.0:7400', allow_insecure: true}\n", "b")
          .ok());
  EXPECT_TRUE(ParseBrokerConfig("broker: {frontend: 'tcp://0.0.0.0:7400'}\n"
                                "curve: {enabled: true, secret_key_file: k, public_key_file: p, "
                                "authorized_keys_dir: d, consumer_keys_dir: c}\n",
                                "b")
                  .ok());
}

TEST(BrokerConfigTest, BadValuesNameTheKey) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {"broker:\n  partitions: 0\n", "broker.yaml:2: broker.partitions: must be 1-256"},
      {"broker:\n  fsync_interval: 10x\n",
       "broker.yaml:2: broker.fsync_interval: \"10x\" is not a duration"},
      {"broker:\n  segment_bytes: lots\n",
       "broker.yaml:2: broker.segment_bytes: \"lots\" is not a size"},
      {"broker:\n  fsync: never\n",
       "broker.yaml:2: broker.fsync: \"never\" is not one of interval | always"},
      {"broker:\n  backend: 127.0.0.1:7401\n",
       "broker.yaml:2: broker.backend: \"127.0.0.1:7401\" is not"},
      {"broker:\n  partitons: 3\n", "broker.yaml:2: broker.partitons: unknown key"},
      {"curve:\n  enabled: true\n", "broker.yaml:2: curve.secret_key_file: is required"},
      {"curve: {enabled: true, secret_key_file: k, public_key_file: p, authorized_keys_dir: d}\n",
       "curve.consumer_keys_dir: is required when curve is enabled"},
      {"broker:\n  group_ttl: 0s\n", "broker.group_ttl: must be at least 1s"},
      {"log: {level: loud}\n", "broker.yaml:1: log.level: \"loud\" is not one of"},
  };
  for (const Case& c : cases) {
    Result<BrokerConfig> r = ParseBrokerConfig(c.yaml, "broker.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_THAT(r.status().message(), HasSubstr(c.expect)) << c.yaml;
  }
}

}  // namespace
}  // namespace hw::broker
