#include "cli/hosts.h"

#include <gtest/gtest.h>

namespace hw::cli {
namespace {

CachedFleet Fleet() {
  CachedFleet f;
  f.hosts = {{"web-01", 100000}, {"web-02", 1000}};
  f.host["web-01"] = {{"tags", R"({"idc":"sgp"})"}, {"first_seen", "1"}};
  f.latest["web-01"] = {{"cpu.busy;cpu=total", "93.5 100000"},
                        {"cpu.busy;cpu=0", "10 100000"},
                        {"mem.used_percent", "41 100000"},
                        {"disk.used_percent;fstype=ext4;mount=/", "70 100000"},
                        {"disk.used_percent;fstype=xfs;mount=/data", "85.5 100000"},
                        {"load.1min", "2.5 100000"}};
  f.latest["web-02"] = {{"cpu.busy;cpu=total", "5 1000"}};
  f.active_alerts["cpu_high|web-01|cpu.busy;cpu=total"] =
      R"({"rule":"cpu_high","key":"cpu_high|web-01|cpu.busy;cpu=total","state":"FIRING","endpoint":"web-01"})";
  f.active_alerts["x|web-02|y"] = R"({"key":"x|web-02|y","state":"PENDING","endpoint":"web-02"})";
  return f;
}

TEST(Hosts, TableSortsMarksStaleAndShowsTags) {
  const std::string t = RenderHosts(Fleet(), SortKey::kCpu, 110000, 60000, false);
  const size_t w1 = t.find("web-01"), w2 = t.find("web-02");
  ASSERT_NE(w1, std::string::npos) << t;
  ASSERT_NE(w2, std::string::npos) << t;
  EXPECT_LT(w1, w2) << t;
  const std::string row1 = t.substr(w1, t.find('\n', w1) - w1);
  EXPECT_NE(row1.find("93.5"), std::string::npos) << row1;
  EXPECT_NE(row1.find("85.5"), std::string::npos) << row1;  // the fullest mount
  EXPECT_NE(row1.find("2.50"), std::string::npos) << row1;
  EXPECT_NE(row1.find(R"({"idc":"sgp"})"), std::string::npos) << row1;
  const std::string row2 = t.substr(w2, t.find('\n', w2) - w2);
  EXPECT_NE(row2.find("!"), std::string::npos) << row2;  // stale
  EXPECT_NE(t.find("2 hosts, 1 stale"), std::string::npos) << t;
}

TEST(Hosts, Json) {
  const std::string j = RenderHosts(Fleet(), SortKey::kHost, 110000, 60000, true);
  EXPECT_NE(
      j.find(
          R"({"host":"web-01","last_seen_ms":100000,"stale":false,"tags":{"idc":"sgp"},"cpu":93.5,"mem":41,"disk":85.5,"load":2.5,"net":null,"firing_alerts":1})"),
      std::string::npos)
      << j;
  EXPECT_NE(
      j.find(R"("host":"web-02","last_seen_ms":1000,"stale":true,"tags":{},"cpu":5,"mem":null)"),
      std::string::npos)
      << j;
}

}  // namespace
}  // namespace hw::cli
