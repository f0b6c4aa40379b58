#include "graphite/hash_ring.h"

#include <gtest/gtest.h>

namespace hw::graphite {
namespace {

std::vector<CarbonDestination> Dests(std::initializer_list<const char*> texts) {
  std::vector<CarbonDestination> out;
  for (const char* t : texts) {
    Result<CarbonDestination> d = ParseCarbonDestination(t);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (d.ok()) out.push_back(*d);
  }
  return out;
}

size_t PlaceOne(const HashRing& ring, std::string_view key) {
  std::vector<size_t> out;
  ring.Place(key, 1, true, &out);
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? 99 : out[0];
}

// Values checked by hand against carbon 1.1.7's own ConsistentHashRing (Debian's graphite-carbon);
// tests/integration/graphite_ring_oracle_test.cc compares whole placements with carbon's router.
TEST(HashRingTest, HashesMatchCarbon) {
  EXPECT_EQ(CarbonChHash("('127.0.0.1', 'a'):0"), 24043u);
  EXPECT_EQ(Fnv1aChHash("0-a"), 52678u);
  EXPECT_EQ(CarbonChHash("foo.bar"), 1273u);
  EXPECT_EQ(Fnv1aChHash("foo.bar"), 58720u);
  // md5("") = d41d8cd9..., md5 of 64+ bytes crosses a block.
  EXPECT_EQ(CarbonChHash(""), 0xd41du);
  EXPECT_EQ(CarbonChHash(std::string(100, 'a')), 0x36a9u);  // md5 = 36a92cc9...
}

TEST(HashRingTest, KnownPlacements) {
  auto dests = Dests({"127.0.0.1:2104:a", "127.0.0.1:2204:b"});
  HashRing ch(HashType::kCarbonCh, dests);
  EXPECT_EQ(PlaceOne(ch, "foo.bar"), 1u);
  EXPECT_EQ(PlaceOne(ch, "servers.web01.cpu.user"), 0u);
  EXPECT_EQ(PlaceOne(ch, "a"), 0u);
  EXPECT_EQ(PlaceOne(ch, "test.fixture.a"), 0u);
  EXPECT_EQ(PlaceOne(ch,
                     "\xc3\xbcn\xc3\xaf"
                     "code.metric"),
            0u);
  HashRing fnv(HashType::kFnv1aCh, dests);
  EXPECT_EQ(PlaceOne(fnv, "foo.bar"), 1u);
  EXPECT_EQ(PlaceOne(fnv, "a"), 0u);
  EXPECT_EQ(PlaceOne(fnv, "test.fixture.a"), 1u);
}

TEST(HashRingTest, DiverseReplicasSkipAServerAlreadyUsed) {
  auto dests = Dests({"127.0.0.1:2003:a", "127.0.0.1:2103:b", "127.0.0.2:2003:c"});
  HashRing ring(HashType::kCarbonCh, dests);
  for (int i = 0; i < 200; ++i) {
    std::string key = "m." + std::to_string(i);
    std::vector<size_t> diverse, plain;
    ring.Place(key, 3, true, &diverse);
    ring.Place(key, 3, false, &plain);
    ASSERT_EQ(diverse.size(), 2u) << key;  // only two servers
    EXPECT_NE(dests[diverse[0]].server, dests[diverse[1]].server);
    ASSERT_EQ(plain.size(), 3u);
    EXPECT_EQ(plain[0], diverse[0]);
  }
}

TEST(HashRingTest, ParsesCarbonDestinations) {
  auto d = ParseCarbonDestination("127.0.0.1:2003");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->server, "127.0.0.1");
  EXPECT_EQ(d->port, 2003);
  EXPECT_FALSE(d->instance.has_value());
  d = ParseCarbonDestination("[::1]:2004:b");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->server, "::1");
  EXPECT_EQ(*d->instance, "b");
  EXPECT_EQ(d->ToString(), "[::1]:2004:b");
  for (const char* bad : {"", "host", "host:", "host:0", "host:70000", "host:20x3", ":2003",
                          "ho'st:2003", "host:2003:", "host:2003:in stance", "[::1:2003"}) {
    EXPECT_FALSE(ParseCarbonDestination(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace hw::graphite
