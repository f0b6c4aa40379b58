// Our ring against graphite's own: carbon's ConsistentHashingRouter (ConsistentHashRing inside),
// imported from the installed graphite-carbon by /usr/bin/python3, for 1,200 names, both hash
// types, with and without instances, replication 1-3, diverse_replicas on and off.
#include <gtest/gtest.h>

#include <sstream>

#include "common/strings/strings.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "graphite/hash_ring.h"

namespace hw::graphite {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOracle = R"PY(
import sys, types
from carbon.routers import ConsistentHashingRouter
from carbon.util import parseDestinations
hash_type, dests, replication, diverse, names_file = sys.argv[1:6]
settings = types.SimpleNamespace(REPLICATION_FACTOR=int(replication),
                                 DIVERSE_REPLICAS=(diverse == "1"), ROUTER_HASH_TYPE=hash_type)
router = ConsistentHashingRouter(settings)
for d in parseDestinations(dests.split(",")):
    router.addDestination(d)
out = []
with open(names_file, encoding="utf-8") as f:
    for name in f.read().split("\n"):
        if not name:
            continue
        seen = []
        for (server, port, instance) in router.getDestinations(name):
            d = "%s:%d:%s" % (server, port, instance)
            if d not in seen:   # a one-node ring yields its node twice; we send once
                seen.append(d)
        out.append(" ".join(seen))
sys.stdout.write("\n".join(out) + "\n")
)PY";

std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (int h = 0; h < 40; ++h) {
    for (const char* m : {"cpu.busy.total", "mem.used_percent", "disk.used_percent._var",
                          "net.rx_bytes.eth0", "load.1min", "proc.rss_bytes.worldserver"}) {
      names.push_back("hostwatch.game-" + std::to_string(h) + "." + m);
    }
    names.push_back("cpu.busy;cpu=total;host=game-" + std::to_string(h));
    names.push_back("mem.used;host=web-" + std::to_string(h) + ".example");
  }
  for (int i = 0; i < 880; ++i) names.push_back("m" + std::to_string(i * 7919) + ".x");
  names.push_back("\xc3\xbcn\xc3\xaf" "code.metric");
  names.push_back("a");
  return names;
}

std::string Expected(const HashRing& ring, const std::vector<CarbonDestination>& dests,
                     const std::string& name, uint32_t replication, bool diverse) {
  std::vector<size_t> idx;
  ring.Place(name, replication, diverse, &idx);
  std::string out;
  for (size_t i : idx) {
    if (!out.empty()) out += " ";
    const CarbonDestination& d = dests[i];
    out += d.server + ":" + std::to_string(d.port) + ":" + d.instance.value_or("None");
  }
  return out;
}

TEST(GraphiteRingOracleTest, SamePlacementsAsCarbonForThousandsOfNames) {
  hw::testing::TempDir dir;
  const std::vector<std::string> names = Names();
  ASSERT_GE(names.size(), 1000u);
  std::string joined;
  for (const std::string& n : names) joined += n + "\n";
  ASSERT_TRUE(hw::testing::WriteFile(dir.path() / "names.txt", joined).ok());
  ASSERT_TRUE(hw::testing::WriteFile(dir.path() / "oracle.py", kOracle).ok());

  const std::vector<std::string> layouts = {
      "127.0.0.1:2003:a,127.0.0.2:2003:b",
      "127.0.0.1:2003:a,127.0.0.1:2103:b,127.0.0.2:2003:c,127.0.0.3:2003:d",
      "10.0.0.1:2003,10.0.0.2:2003,10.0.0.3:2003",  // carbon_ch only: fnv1a without instances
                                                    // collides
      "127.0.0.1:2003:a"};
  size_t compared = 0;
  for (const std::string& hash : {std::string("carbon_ch"), std::string("fnv1a_ch")}) {
    for (const std::string& layout : layouts) {
      if (hash == "fnv1a_ch" && layout.find(":a") == std::string::npos) continue;
      std::vector<CarbonDestination> dests;
      for (std::string_view t : strings::Split(layout, ','))
        dests.push_back(*ParseCarbonDestination(t));
      HashRing ring(hash == "fnv1a_ch" ? HashType::kFnv1aCh : HashType::kCarbonCh, dests);
      for (uint32_t replication : {1u, 2u, 3u}) {
        for (bool diverse : {true, false}) {
          std::string output;
          Result<int> rc =
              hw::testing::RunCommand({"/usr/bin/python3", (dir.path() / "oracle.py").string(),
                                       hash, layout, std::to_string(replication),
                                       diverse ? "1" : "0", (dir.path() / "names.txt").string()},
                                      &output, 60s);
          ASSERT_TRUE(rc.ok() && *rc == 0) << output;
          std::vector<std::string_view> lines = strings::Split(output, '\n');
          ASSERT_GE(lines.size(), names.size());
          size_t mismatches = 0;
          for (size_t i = 0; i < names.size(); ++i) {
            std::string ours = Expected(ring, dests, names[i], replication, diverse);
            if (ours != lines[i] && ++mismatches <= 5) {
              ADD_FAILURE() << hash << " " << layout << " r=" << replication << " d=" << diverse
                            << " " << names[i] << ": ours [" << ours << "] carbon [" << lines[i]
                            << "]";
            }
            ++compared;
          }
          EXPECT_EQ(mismatches, 0u);
        }
      }
    }
  }
  EXPECT_GE(compared, 20000u);
  std::printf("compared %zu placements with carbon's ConsistentHashRing\n", compared);
}

}  // namespace
}  // namespace hw::graphite
