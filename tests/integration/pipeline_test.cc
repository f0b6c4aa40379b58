// The broker issue's acceptance runs, with the real binaries: hostwatch loadgen -> hostwatch-broker
// -> hostwatch consume. Each test states the figure it checks; every wait has a deadline.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "hostwatch/v1/link.pb.h"
#include "tests/integration/broker_harness.h"

namespace hw {
namespace {

using namespace std::chrono_literals;
const std::string kCli = HW_BINARY_DIR "/cli/hostwatch";

// The number after "key": in a flat JSON object printed by our CLI; -1 when absent.
int64_t JsonNumber(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\": ";
  size_t at = json.find(needle);
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + needle.size(), nullptr, 10);
}

// A total (items, duplicates, ...) for loadgen's sources in a `consume --format summary --json`
// output: the whole minus the broker's own (source "<host>/broker", whose self-metrics every 10 s
// go into the same journal and whose timing this test does not control).
int64_t LoadgenTotal(const std::string& json, const std::string& key) {
  int64_t total = JsonNumber(json, key);
  const size_t at = json.find("/broker\": {");
  if (at != std::string::npos) total -= JsonNumber(json.substr(at), key);
  return total;
}
int64_t LoadgenItems(const std::string& json) { return LoadgenTotal(json, "items"); }

std::string Slurp(const std::filesystem::path& p) {
  Result<std::string> r = testing::ReadFile(p);
  return r.ok() ? *r : std::string();
}

class PipelineTest : public ::testing::Test {
 protected:
  void StartBroker(bool launch = true) {
    testing::BrokerProcessOptions o;
    o.launch = launch;
    auto b = testing::BrokerProcess::Start(dir_.Sub("broker"), o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
  }

  // Starts a CLI verb in the background with stdout/stderr to files named after `tag`.
  testing::Subprocess Cli(const std::string& tag, std::vector<std::string> args) {
    testing::SubprocessOptions o;
    o.argv = {kCli};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.stdout_path = dir_.path() / (tag + ".out");
    o.stderr_path = dir_.path() / (tag + ".err");
    auto p = testing::Subprocess::Start(o);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return std::move(p).value();
  }
  // The broker's stats, from `hostwatch status --json`; nullopt when it does not answer.
  std::optional<hostwatch::v1::BrokerStats> Stats() {
    std::string out;
    Result<int> rc = testing::RunCommand({kCli, "status", "--json", "--broker", broker_->frontend(),
                                          "--backend", broker_->backend()},
                                         &out, 10s);
    hostwatch::v1::BrokerStats stats;
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;
    if (!rc.ok() || *rc != 0 ||
        !google::protobuf::util::JsonStringToMessage(out, &stats, opts).ok())
      return std::nullopt;
    return stats;
  }
  // Envelopes the broker has journaled; -1 when it does not answer.
  int64_t Appended() {
    std::optional<hostwatch::v1::BrokerStats> stats = Stats();
    return stats ? static_cast<int64_t>(stats->appended()) : -1;
  }
  // Records the broker holds as committed for `group`, summed over its partitions; -1 when the
  // broker does not answer.
  int64_t Committed(const std::string& group) {
    std::optional<hostwatch::v1::BrokerStats> stats = Stats();
    if (!stats) return -1;
    int64_t sum = 0;
    for (const auto& g : stats->groups()) {
      if (g.group() != group) continue;
      for (const auto& p : g.partitions()) sum += static_cast<int64_t>(p.committed());
    }
    return sum;
  }

  std::string Out(const std::string& tag) { return Slurp(dir_.path() / (tag + ".out")); }
  std::string Err(const std::string& tag) { return Slurp(dir_.path() / (tag + ".err")); }

  std::vector<std::string> Loadgen(int hosts, int metrics, int interval, int duration, int rate) {
    return {"loadgen",
            "--broker",
            broker_->frontend(),
            "--hosts",
            std::to_string(hosts),
            "--metrics",
            std::to_string(metrics),
            "--interval",
            std::to_string(interval),
            "--duration",
            std::to_string(duration),
            "--rate",
            std::to_string(rate),
            "--json",
            "--spool-dir",
            dir_.Sub("loadgen-spool").string()};
  }
  std::vector<std::string> Consume(const std::string& group, int64_t count,
                                   const std::string& format, int timeout_s = 300, int idle_s = 0) {
    std::vector<std::string> a = {"consume",
                                  "--broker",
                                  broker_->frontend(),
                                  "--backend",
                                  broker_->backend(),
                                  "--group",
                                  group,
                                  "--count",
                                  std::to_string(count),
                                  "--timeout",
                                  std::to_string(timeout_s),
                                  "--format",
                                  format,
                                  "--json"};
    if (idle_s > 0) a.insert(a.end(), {"--idle", std::to_string(idle_s)});
    return a;
  }

  // Distinct (source, epoch, seq) and samples in a `consume --format json` output.
  struct Seen {
    std::set<std::tuple<std::string, uint64_t, uint64_t>> envelopes;
    uint64_t samples = 0;
    uint64_t lines = 0;
  };
  static void Parse(const std::string& text, Seen* seen) {
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;  // partition and offset are added by consume
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) break;  // a line cut by kill -9 is not counted
      hostwatch::v1::Envelope env;
      if (google::protobuf::util::JsonStringToMessage(text.substr(pos, nl - pos), &env, opts)
              .ok() &&
          !env.source().ends_with("/broker")) {
        ++seen->lines;
        if (seen->envelopes.insert({env.source(), env.epoch(), env.seq()}).second) {
          seen->samples += static_cast<uint64_t>(env.samples().samples_size());
        }
      }
      pos = nl + 1;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BrokerProcess> broker_;
};

// 1,000,000 samples from loadgen arrive in `consume --format summary` with 0 missing, 0 duplicates.
TEST_F(PipelineTest, MillionSamplesArriveOnce) {
  StartBroker();
  // The broker's own samples (every 10 s) also reach the group: count only loadgen's via items.
  // --count is a safety stop only; it ends on 10 s of silence so every sample can arrive.
  auto consume = Cli("consume", Consume("million", 2'000'000, "summary", 300, 10));
  auto load = Cli("loadgen", Loadgen(100, 100, 10, 1000, 0));  // 100 x 100 x 100 ticks
  std::optional<int> lrc = load.Wait(300s);
  ASSERT_TRUE(lrc.has_value());
  ASSERT_EQ(*lrc, 0) << Err("loadgen") << broker_->Log();
  EXPECT_EQ(JsonNumber(Out("loadgen"), "acked"), 1'000'000) << Out("loadgen");
  std::optional<int> crc = consume.Wait(300s);
  ASSERT_TRUE(crc.has_value());
  const std::string summary = Out("consume");
  EXPECT_EQ(*crc, 0) << summary << Err("consume");
  EXPECT_EQ(LoadgenItems(summary), 1'000'000) << summary;
  EXPECT_EQ(JsonNumber(summary, "missing"), 0) << summary;
  EXPECT_EQ(LoadgenTotal(summary, "duplicates"), 0) << summary << Err("consume") << broker_->Log();
}

// kill -9 of the broker in a stream of >= 50,000 samples/s, restarted after 2 s: nothing missing.
TEST_F(PipelineTest, BrokerKill9MidStreamLosesNothing) {
  StartBroker();
  const int kHosts = 50, kMetrics = 100, kTicks = 100;  // 500,000 samples at 60,000/s: ~8 s
  auto load = Cli("loadgen", Loadgen(kHosts, kMetrics, 1, kTicks, 60'000));
  // Kill the broker hard in the middle of the stream: once it has journaled about a fifth of it
  // (10,000 envelopes in all: 100 per tick) and loadgen is still sending.
  ASSERT_TRUE(testing::WaitFor([&] { return Appended() >= 2000; }, 60s)) << broker_->Log();
  ASSERT_TRUE(load.Running()) << "loadgen finished before the kill; raise the sample count";
  broker_->Kill9();
  std::this_thread::sleep_for(2s);  // "restarted after 2 s"
  ASSERT_TRUE(broker_->Restart().ok()) << broker_->Log();
  std::optional<int> lrc = load.Wait(300s);
  ASSERT_TRUE(lrc.has_value());
  ASSERT_EQ(*lrc, 0) << Err("loadgen") << Out("loadgen");
  const int64_t total = int64_t{kHosts} * kMetrics * kTicks;
  EXPECT_EQ(JsonNumber(Out("loadgen"), "acked"), total);

  auto consume = Cli("consume", Consume("after-kill", 2 * total, "summary", 300, 10));
  std::optional<int> crc = consume.Wait(300s);
  ASSERT_TRUE(crc.has_value());
  const std::string summary = Out("consume");
  EXPECT_EQ(*crc, 0) << summary << Err("consume");
  EXPECT_EQ(LoadgenItems(summary), total) << summary;
  EXPECT_EQ(JsonNumber(summary, "missing"), 0) << summary;
}

// kill -9 of a consumer mid-stream, restarted: it resumes after its committed offset, 0 missing.
TEST_F(PipelineTest, ConsumerKill9ResumesAfterCommit) {
  StartBroker();
  const int kHosts = 20, kMetrics = 100, kTicks = 100;  // 200,000 samples, 4,000 envelopes
  auto load = Cli("loadgen", Loadgen(kHosts, kMetrics, 10, kTicks * 10, 0));
  std::optional<int> lrc = load.Wait(300s);
  ASSERT_TRUE(lrc.has_value() && *lrc == 0) << Err("loadgen");

  auto first = Cli("consume1",
                   {"consume", "--broker", broker_->frontend(), "--backend", broker_->backend(),
                    "--group", "resume", "--format", "json", "--credit", "50", "--timeout", "300"});
  // Kill it once the broker holds a commit of it: a kill before its first commit reached the
  // broker would rightly repeat everything, and prove nothing about resuming.
  ASSERT_TRUE(testing::WaitFor([&] { return Committed("resume") > 0; }, 60s)) << Err("consume1");
  first.Signal(SIGKILL);
  first.Wait(10s);
  Seen seen;
  Parse(Out("consume1"), &seen);
  const size_t first_run = seen.envelopes.size();
  ASSERT_GT(first_run, 0u);
  ASSERT_LT(first_run, 4000u) << "the first consumer got everything before the kill";

  // The broker notices the dead member after 5 s (or at once when the new one subscribes).
  auto second = Cli("consume2", Consume("resume", 1'000'000, "json", 120, 8));
  std::optional<int> crc = second.Wait(180s);
  ASSERT_TRUE(crc.has_value());
  Seen after;
  Parse(Out("consume2"), &after);
  Parse(Out("consume2"), &seen);
  EXPECT_EQ(seen.envelopes.size(), 4000u) << "missing envelopes after the restart";
  EXPECT_EQ(seen.samples, uint64_t{kHosts} * kMetrics * kTicks);
  // It resumed after the commit rather than from the start: the second run did not repeat the bulk.
  EXPECT_LT(after.envelopes.size(), 4000u);
}

// Broker down for 10 s before producers start: they spool, then deliver everything once it is up.
TEST_F(PipelineTest, ProducersSpoolWhileBrokerIsDown) {
  StartBroker(/*launch=*/false);
  auto load = Cli("loadgen", Loadgen(10, 50, 10, 500, 0));  // 25,000 samples
  std::this_thread::sleep_for(10s);  // the length of the outage the scenario asks for
  ASSERT_TRUE(load.Running()) << Out("loadgen") << Err("loadgen");
  // Everything so far waits in the producers' spools.
  uint64_t spooled = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(dir_.path() / "loadgen-spool")) {
    if (e.is_regular_file() && e.path().extension() == ".seg") spooled += e.file_size();
  }
  EXPECT_GT(spooled, 25'000u * 8) << "25,000 samples of at least 8 bytes each should be spooled";
  ASSERT_TRUE(broker_->Restart().ok());
  std::optional<int> lrc = load.Wait(120s);
  ASSERT_TRUE(lrc.has_value());
  ASSERT_EQ(*lrc, 0) << Err("loadgen");
  EXPECT_EQ(JsonNumber(Out("loadgen"), "acked"), 25'000);
  auto consume = Cli("consume", Consume("late", 1'000'000, "summary", 120, 10));
  std::optional<int> crc = consume.Wait(150s);
  ASSERT_TRUE(crc.has_value());
  EXPECT_EQ(LoadgenItems(Out("consume")), 25'000) << Out("consume");
  EXPECT_EQ(JsonNumber(Out("consume"), "missing"), 0) << Out("consume");
}

// Two groups each receive everything; two members of one group split the partitions and together
// receive everything exactly once in the steady state.
TEST_F(PipelineTest, GroupsAndMembers) {
  StartBroker();
  auto m1 = Cli("m1", Consume("shared", 1'000'000, "json", 120, 8));
  auto m2 = Cli("m2", Consume("shared", 1'000'000, "json", 120, 8));
  // Both members joined (and the group rebalanced) before any data flows: steady state.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        std::string out;
        Result<int> rc = testing::RunCommand({kCli, "status", "--json", "--broker",
                                              broker_->frontend(), "--backend", broker_->backend()},
                                             &out, 10s);
        return rc.ok() && *rc == 0 && out.find("\"members\":2") != std::string::npos;
      },
      30s));
  auto load = Cli("loadgen", Loadgen(20, 64, 10, 500, 0));  // 20 hosts x 50 ticks = 1,000 envelopes
  std::optional<int> lrc = load.Wait(120s);
  ASSERT_TRUE(lrc.has_value() && *lrc == 0) << Err("loadgen");
  auto other = Cli("other", Consume("other-group", 1'000'000, "summary", 120, 8));

  ASSERT_TRUE(m1.Wait(180s).has_value());
  ASSERT_TRUE(m2.Wait(180s).has_value());
  Seen a, b, both;
  Parse(Out("m1"), &a);
  Parse(Out("m2"), &b);
  Parse(Out("m1"), &both);
  Parse(Out("m2"), &both);
  EXPECT_GT(a.envelopes.size(), 0u);
  EXPECT_GT(b.envelopes.size(), 0u);
  EXPECT_EQ(both.envelopes.size(), 1000u);
  EXPECT_EQ(a.lines + b.lines, 1000u) << "a record was delivered to both members";
  for (const auto& e : a.envelopes) EXPECT_FALSE(b.envelopes.contains(e));

  ASSERT_TRUE(other.Wait(180s).has_value());
  EXPECT_EQ(LoadgenItems(Out("other")), 64'000) << Out("other");
  EXPECT_EQ(JsonNumber(Out("other"), "missing"), 0);
}

}  // namespace
}  // namespace hw
