#include "rediscache/key_schema.h"

#include <gtest/gtest.h>

#include "rediscache/redis_cluster.h"

namespace hw::rediscache {
namespace {

namespace pb = hostwatch::v1;

TEST(KeySchema, NamesFollowDesign) {
  KeySchema k("hw:");
  EXPECT_EQ(k.Hosts(), "hw:hosts");
  EXPECT_EQ(k.Host("web-01"), "hw:host:{web-01}");
  EXPECT_EQ(k.Latest("web-01"), "hw:latest:{web-01}");
  EXPECT_EQ(k.History("web-01", "cpu.busy;cpu=total"), "hw:hist:{web-01}:cpu.busy;cpu=total");
  EXPECT_EQ(k.Events("web-01"), "hw:events:{web-01}");
  EXPECT_EQ(k.FleetEvents(), "hw:events");
  EXPECT_EQ(k.AlertsActive(), "hw:alerts:active");
  EXPECT_EQ(k.AlertsLog(), "hw:alerts:log");
}

TEST(KeySchema, ValuesInShortestRoundTripForm) {
  EXPECT_EQ(FormatValue(42.5), "42.5");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(100), "100");
  EXPECT_EQ(FormatValue(-3.25), "-3.25");
  EXPECT_EQ(LatestValue(42.5, 1700000000123), "42.5 1700000000123");
  EXPECT_EQ(HistoryMember(7, 1700000000123), "1700000000123:7");
}

TEST(KeySchema, SeriesHasSortedTags) {
  pb::Sample s;
  s.set_metric("disk.used_percent");
  EXPECT_EQ(SeriesName(s), "disk.used_percent");
  (*s.mutable_tags())["mount"] = "/";
  (*s.mutable_tags())["fstype"] = "ext4";
  EXPECT_EQ(SeriesName(s), "disk.used_percent;fstype=ext4;mount=/");
}

TEST(KeySchema, JsonEscapesEverythingThatNeedsIt) {
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("x\ny\x01"), R"("x\ny\u0001")");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(JsonString("bad\xff"), R"("bad\u00ff")");
  EXPECT_EQ(JsonObject({{"idc", "sgp"}, {"role", "a b"}}), R"({"idc":"sgp","role":"a b"})");
  EXPECT_EQ(JsonArray({"a/collector", "a/logwatch"}), R"(["a/collector","a/logwatch"])");
}

TEST(KeySchema, StreamIdsAreStableAndIncreasing) {
  EXPECT_EQ(ReplayStableStreamId(1700000000000, 5, 2), "1700000000000-327682");
  EXPECT_EQ(ReplayStableStreamId(1700000000000, 5, 2), ReplayStableStreamId(1700000000000, 5, 2));
  EXPECT_LT(5 * 65536 + 65535, 6 * 65536);
}

TEST(KeySchema, HistoryMetricsByNameOrGlob) {
  EXPECT_TRUE(MatchesAny("cpu.busy", {"cpu.busy"}));
  EXPECT_TRUE(MatchesAny("cpu.user", {"mem.used", "cpu.*"}));
  EXPECT_FALSE(MatchesAny("cpu.busyx", {"cpu.busy"}));
}

TEST(Cluster, Crc16AndSlotsMatchRedis) {
  EXPECT_EQ(Crc16("123456789"), 0x31c3);
  EXPECT_EQ(KeySlot("foo"), 12182);  // a real cluster answers "MOVED 12182" for "foo"
  EXPECT_EQ(KeySlot("hw:latest:{web-01}"), KeySlot("web-01"));
  EXPECT_EQ(KeySlot("hw:hist:{web-01}:a;b={x}"), KeySlot("web-01"));
  EXPECT_EQ(KeySlot("a{}b"), KeySlot("a{}b"));  // an empty tag hashes the whole key
  EXPECT_NE(KeySlot("a{}b"), KeySlot(""));
}

TEST(Cluster, ParsesRedirects) {
  Redirect r;
  ASSERT_TRUE(ParseRedirect("MOVED 3999 127.0.0.1:6381", &r));
  EXPECT_FALSE(r.ask);
  EXPECT_EQ(r.slot, 3999);
  EXPECT_EQ(r.address.ToString(), "127.0.0.1:6381");
  ASSERT_TRUE(ParseRedirect("ASK 12 127.0.0.1:7000", &r));
  EXPECT_TRUE(r.ask);
  EXPECT_FALSE(ParseRedirect("ERR wrong type", &r));
  EXPECT_FALSE(ParseRedirect("MOVED x 127.0.0.1:1", &r));
}

}  // namespace
}  // namespace hw::rediscache
