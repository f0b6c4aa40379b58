#include "rediscache/cache_writer.h"

#include <gtest/gtest.h>

namespace hw::rediscache {
namespace {

namespace pb = hostwatch::v1;

transport::Delivery Samples(const std::string& e, uint64_t seq, int64_t t,
                            std::vector<std::pair<std::string, double>> points) {
  transport::Delivery d;
  d.offset = seq;
  d.envelope.set_source(e + "/collector");
  d.envelope.set_seq(seq);
  d.envelope.set_sent_ms(t);
  auto* b = d.envelope.mutable_samples();
  b->set_endpoint(e);
  (*b->mutable_host_tags())["idc"] = "sgp";
  for (auto& [m, v] : points) {
    auto* s = b->add_samples();
    s->set_metric(m);
    s->set_value(v);
    s->set_time_ms(t);
  }
  return d;
}

const Command* Find(const Pipeline& p, const std::string& verb, const std::string& key) {
  for (const Command& c : p) {
    if (c.argv[0] == verb && c.argv[1] == key) return &c;
  }
  return nullptr;
}

WriterOptions Options() {
  WriterOptions o;
  o.history_metrics = {"cpu.busy"};
  o.history_points = 3;
  return o;
}

TEST(CacheWriter, OneHsetPerEndpointWithTheNewestValues) {
  CacheWriter w(Options());
  BatchPlan p = w.Plan({Samples("a", 1, 1000, {{"cpu.busy", 1}, {"mem.used", 5}}),
                        Samples("a", 2, 2000, {{"cpu.busy", 2}})});
  int hsets = 0;
  for (const Command& c : p.main) hsets += c.argv[0] == "HSET" && c.argv[1] == "hw:latest:{a}";
  EXPECT_EQ(hsets, 1);
  const Command* hset = Find(p.main, "HSET", "hw:latest:{a}");
  ASSERT_NE(hset, nullptr);
  EXPECT_EQ(hset->argv, (std::vector<std::string>{"HSET", "hw:latest:{a}", "cpu.busy", "2 2000",
                                                  "mem.used", "5 1000"}));
  const Command* zadd = Find(p.main, "ZADD", "hw:hist:{a}:cpu.busy");
  ASSERT_NE(zadd, nullptr);
  EXPECT_EQ(zadd->argv, (std::vector<std::string>{"ZADD", "hw:hist:{a}:cpu.busy", "1000", "1000:1",
                                                  "2000", "2000:2"}));
  EXPECT_EQ(Find(p.main, "ZADD", "hw:hist:{a}:mem.used"), nullptr);
  const Command* trim = Find(p.main, "ZREMRANGEBYRANK", "hw:hist:{a}:cpu.busy");
  ASSERT_NE(trim, nullptr);
  EXPECT_EQ(trim->argv[3], "-4");
  const Command* hosts = Find(p.main, "ZADD", "hw:hosts");
  ASSERT_NE(hosts, nullptr);
  EXPECT_EQ(hosts->argv, (std::vector<std::string>{"ZADD", "hw:hosts", "GT", "2000", "a"}));
  const Command* host = Find(p.main, "HSET", "hw:host:{a}");
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->argv[5], R"({"idc":"sgp"})");
  EXPECT_EQ(host->argv[7], R"(["a/collector"])");
  EXPECT_EQ(p.samples, 3u);
}

TEST(CacheWriter, OlderValueThanTheCopyIsNotWrittenAsLatest) {
  CacheWriter w(Options());
  (void)w.Plan({Samples("a", 2, 2000, {{"mem.used", 2}})});
  BatchPlan p = w.Plan({Samples("a", 1, 1000, {{"mem.used", 1}})});
  EXPECT_EQ(Find(p.main, "HSET", "hw:latest:{a}"), nullptr);
  EXPECT_EQ(p.skipped_old, 1u);
}

TEST(CacheWriter, RewriteAllHasEveryHostAndItsLatestValues) {
  CacheWriter w(Options());
  (void)w.Plan({Samples("a", 1, 1000, {{"x", 1}}), Samples("b", 1, 1500, {{"y", 2}})});
  Pipeline r = w.RewriteAll();
  ASSERT_NE(Find(r, "HSET", "hw:latest:{a}"), nullptr);
  ASSERT_NE(Find(r, "HSET", "hw:latest:{b}"), nullptr);
  EXPECT_EQ(Find(r, "HSET", "hw:latest:{b}")->argv[3], "2 1500");
  const Command* host = Find(r, "HSET", "hw:host:{a}");
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->argv[2], "first_seen");
  int zadds = 0;
  for (const Command& c : r) zadds += c.argv[0] == "ZADD" && c.argv[1] == "hw:hosts";
  EXPECT_EQ(zadds, 2);
}

TEST(CacheWriter, EventsAreCheckedThenWrittenOnlyWhenAbsent) {
  CacheWriter w(Options());
  transport::Delivery d;
  d.envelope.set_source("a/logwatch");
  d.envelope.set_seq(7);
  d.envelope.set_sent_ms(5000);
  d.envelope.mutable_events()->set_endpoint("a");
  auto* ev = d.envelope.mutable_events()->add_events();
  ev->set_rule("oom");
  ev->set_line(std::string("Out of memory\0x", 15));
  ev->set_time_ms(4999);
  BatchPlan p = w.Plan({d});
  ASSERT_EQ(p.events.size(), 1u);
  const Command& check = p.main[p.events[0].check];
  EXPECT_EQ(check.argv,
            (std::vector<std::string>{"XRANGE", "hw:events:{a}", "5000-458752", "5000-458752"}));
  std::vector<Reply> replies(p.main.size());
  replies[p.events[0].check].type = Reply::Type::kArray;
  Pipeline second = w.EventWrites(p, replies);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].argv[1], "hw:events");
  EXPECT_EQ(second[1].argv[1], "hw:events:{a}");
  EXPECT_EQ(second[1].argv[5], "5000-458752");
  replies[p.events[0].check].elements.push_back(Reply{});
  EXPECT_TRUE(w.EventWrites(p, replies).empty());
}

TEST(CacheWriter, ResolvedAlertsLeaveTheActiveHash) {
  CacheWriter w(Options());
  transport::Delivery d;
  d.envelope.set_seq(1);
  d.envelope.set_sent_ms(9000);
  auto* a = d.envelope.mutable_alerts()->add_alerts();
  a->set_key("cpu_high|a|cpu.busy");
  a->set_state(pb::Alert::FIRING);
  BatchPlan p = w.Plan({d});
  ASSERT_NE(Find(p.main, "HSET", "hw:alerts:active"), nullptr);
  ASSERT_NE(Find(p.main, "XADD", "hw:alerts:log"), nullptr);
  a->set_state(pb::Alert::RESOLVED);
  p = w.Plan({d});
  ASSERT_NE(Find(p.main, "HDEL", "hw:alerts:active"), nullptr);
}

TEST(CacheWriter, ExpireForgetsIdleHosts) {
  WriterOptions o = Options();
  o.host_ttl_ms = 1000;
  CacheWriter w(o);
  (void)w.Plan({Samples("a", 1, 1000, {{"x", 1}}), Samples("b", 1, 5000, {{"x", 1}})});
  Pipeline p = w.Expire(5500);
  EXPECT_EQ(w.hosts(), 1u);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].argv, (std::vector<std::string>{"ZREMRANGEBYSCORE", "hw:hosts", "-inf", "(4500"}));
}

// The same delivery as the consumer kit hands it with raw_bodies: the header parsed, the rest
// bytes.
transport::Delivery Raw(const transport::Delivery& parsed, const std::string& bytes) {
  transport::Delivery d;
  d.offset = parsed.offset;
  d.envelope.set_source(parsed.envelope.source());
  d.envelope.set_seq(parsed.envelope.seq());
  d.body = bytes;
  return d;
}

TEST(CacheWriter, RawBytesPlanTheSameAsParsedEnvelopes) {
  transport::Delivery a = Samples("a", 1, 1000, {{"cpu.busy", 1}, {"mem.used", 5}});
  auto* tagged = a.envelope.mutable_samples()->add_samples();
  tagged->set_metric("disk.used");
  (*tagged->mutable_tags())["mount"] = "/var";
  (*tagged->mutable_tags())["dev"] = "sda 1";
  tagged->set_value(0.5);
  tagged->set_time_ms(1000);
  const std::string bytes = a.envelope.SerializeAsString();
  // Two samples bodies on the wire: a full parse merges them, and so must the plan.
  transport::Delivery b = Samples("a", 2, 2000, {{"cpu.busy", 2}});
  transport::Delivery b2 = Samples("a", 2, 2000, {{"load.1min", 3}});
  const std::string merged = b.envelope.SerializeAsString() + b2.envelope.SerializeAsString();
  transport::Delivery bm;
  ASSERT_TRUE(bm.envelope.ParseFromString(merged));

  CacheWriter parsed(Options()), raw(Options());
  BatchPlan p = parsed.Plan({a, bm});
  BatchPlan r = raw.Plan({Raw(a, bytes), Raw(bm, merged)});
  ASSERT_EQ(p.main.size(), r.main.size());
  for (size_t i = 0; i < p.main.size(); ++i) EXPECT_EQ(p.main[i].argv, r.main[i].argv) << i;
  EXPECT_EQ(r.samples, 5u);
  const Command* hset = Find(r.main, "HSET", "hw:latest:{a}");
  ASSERT_NE(hset, nullptr);
  EXPECT_EQ(hset->argv, (std::vector<std::string>{
                            "HSET", "hw:latest:{a}", "cpu.busy", "2 2000", "mem.used", "5 1000",
                            "disk.used;dev=sda 1;mount=/var", "0.5 1000", "load.1min", "3 2000"}));
  EXPECT_EQ(r.malformed, 0u);
}

TEST(CacheWriter, BytesThatDoNotParseAreCountedAndSkipped) {
  CacheWriter w(Options());
  transport::Delivery d;
  d.offset = 1;
  d.body = "\x52\x7f";  // a samples body longer than the bytes
  BatchPlan p = w.Plan({d});
  EXPECT_EQ(p.malformed, 1u);
  EXPECT_TRUE(p.main.empty());
  EXPECT_EQ(w.hosts(), 0u);
}

TEST(CacheWriter, TtlsAndFirstSeenAreSentOncePerRefreshNotPerBatch) {
  WriterOptions o = Options();
  o.host_ttl_ms = 100000;  // refreshed every 10 s
  CacheWriter w(o);
  auto count = [](const Pipeline& p, const std::string& verb) {
    int n = 0;
    for (const Command& c : p) n += c.argv[0] == verb;
    return n;
  };
  BatchPlan first = w.Plan({Samples("a", 1, 1000, {{"cpu.busy", 1}})}, 5000);
  EXPECT_EQ(count(first.main, "PEXPIRE"), 3);  // host, latest, history
  EXPECT_EQ(count(first.main, "HSETNX"), 1);
  BatchPlan soon = w.Plan({Samples("a", 2, 2000, {{"cpu.busy", 2}})}, 14999);
  EXPECT_EQ(count(soon.main, "PEXPIRE"), 0);
  EXPECT_EQ(count(soon.main, "HSETNX"), 0);
  EXPECT_NE(Find(soon.main, "HSET", "hw:latest:{a}"), nullptr);
  BatchPlan later = w.Plan({Samples("a", 3, 3000, {{"cpu.busy", 3}})}, 15000);
  EXPECT_EQ(count(later.main, "PEXPIRE"), 3);
  // A restarted Redis has no TTLs: the rewrite sends the host's, the next batch the rest.
  Pipeline rewrite = w.RewriteAll();
  EXPECT_EQ(count(rewrite, "PEXPIRE"), 2);
  BatchPlan after = w.Plan({Samples("a", 4, 4000, {{"cpu.busy", 4}})}, 15001);
  EXPECT_EQ(count(after.main, "PEXPIRE"), 3);
}

}  // namespace
}  // namespace hw::rediscache
