#include "cli/fleet_view.h"

#include <gtest/gtest.h>

namespace hw::cli {
namespace {

using hostwatch::v1::Alert;
using hostwatch::v1::Envelope;

constexpr int64_t kNow = 1700000100000;

Envelope Samples(const std::string& endpoint, int64_t t,
                 std::vector<std::tuple<std::string, double, std::string, std::string>> rows) {
  Envelope e;
  e.set_sent_ms(t);
  e.mutable_samples()->set_endpoint(endpoint);
  for (auto& [metric, value, tk, tv] : rows) {
    auto* s = e.mutable_samples()->add_samples();
    s->set_metric(metric);
    s->set_value(value);
    s->set_time_ms(t);
    if (!tk.empty()) (*s->mutable_tags())[tk] = tv;
  }
  return e;
}

TEST(FleetViewTest, KeepsEachHostsVitalSigns) {
  FleetView v;
  v.Observe(Samples("web-01", kNow - 5000,
                    {{"cpu.busy", 12.5, "cpu", "total"},
                     {"cpu.busy", 99, "cpu", "0"},
                     {"mem.used_percent", 40, "", ""},
                     {"load.1min", 0.75, "", ""},
                     {"disk.used_percent", 30, "mount", "/"},
                     {"disk.used_percent", 91, "mount", "/data"},
                     {"net.rx_bytes", 1000, "iface", "eth0"},
                     {"net.tx_bytes", 500, "iface", "eth0"},
                     {"net.rx_bytes", 1e9, "iface", "lo"}}));
  std::vector<HostRow> rows = v.Rows(SortKey::kCpu, kNow, 60000);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].cpu, 12.5) << "the total, not cpu 0";
  EXPECT_EQ(rows[0].mem, 40);
  EXPECT_EQ(rows[0].load, 0.75);
  EXPECT_EQ(rows[0].disk, 91) << "the fullest mount";
  EXPECT_EQ(rows[0].net, 1500) << "rx+tx, without lo";
  EXPECT_EQ(rows[0].last_seen_ms, kNow - 5000);
}

TEST(FleetViewTest, SortsBusiestFirstAndStaleLast) {
  FleetView v;
  v.Observe(Samples("a", kNow - 1000, {{"cpu.busy", 10, "cpu", "total"}}));
  v.Observe(Samples("b", kNow - 1000, {{"cpu.busy", 80, "cpu", "total"}}));
  v.Observe(Samples("c", kNow - 120000, {{"cpu.busy", 99, "cpu", "total"}}));  // stale
  std::vector<HostRow> rows = v.Rows(SortKey::kCpu, kNow, 60000);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].endpoint, "b");
  EXPECT_EQ(rows[1].endpoint, "a");
  EXPECT_EQ(rows[2].endpoint, "c");
  rows = v.Rows(SortKey::kHost, kNow, 60000);
  EXPECT_EQ(rows[0].endpoint, "a");
  EXPECT_EQ(rows[2].endpoint, "c");
  const std::string screen = v.Render(SortKey::kCpu, kNow, 60000, 120, 10);
  EXPECT_NE(screen.find("3 hosts, 1 stale"), std::string::npos) << screen;
  EXPECT_NE(screen.find("STALE"), std::string::npos);
}

TEST(FleetViewTest, CountsFiringAlertsUntilResolved) {
  FleetView v;
  Envelope e;
  auto add = [&](const std::string& key, Alert::State st) {
    auto* a = e.mutable_alerts()->add_alerts();
    a->set_key(key);
    a->set_endpoint("db-01");
    a->set_state(st);
  };
  add("cpu_high|db-01|cpu.busy", Alert::FIRING);
  add("disk_full|db-01|disk.used_percent;mount=/", Alert::FIRING);
  v.Observe(e);
  EXPECT_EQ(v.Rows(SortKey::kAlerts, kNow, 60000)[0].alerts, 2u);
  e.Clear();
  add("cpu_high|db-01|cpu.busy", Alert::RESOLVED);
  v.Observe(e);
  EXPECT_EQ(v.Rows(SortKey::kAlerts, kNow, 60000)[0].alerts, 1u);
}

TEST(FleetViewTest, RenderFitsTheWidthAndRows) {
  FleetView v;
  for (int i = 0; i < 50; ++i)
    v.Observe(
        Samples("host-" + std::to_string(i), kNow, {{"cpu.busy", double(i), "cpu", "total"}}));
  const std::string screen = v.Render(SortKey::kCpu, kNow, 60000, 40, 5);
  size_t lines = 0;
  for (size_t p = 0, q; (q = screen.find('\n', p)) != std::string::npos; p = q + 1) {
    EXPECT_LE(q - p, 40u);
    ++lines;
  }
  EXPECT_EQ(lines, 2u + 5u);
  EXPECT_NE(screen.find("host-49"), std::string::npos) << "busiest first";
}

TEST(FleetViewTest, SortKeysByNameOrLetter) {
  EXPECT_EQ(*ParseSortKey("mem"), SortKey::kMem);
  EXPECT_EQ(*ParseSortKey("d"), SortKey::kDisk);
  EXPECT_EQ(*ParseSortKey("s"), SortKey::kSeen);
  EXPECT_EQ(*ParseSortKey("h"), SortKey::kHost);
  EXPECT_FALSE(ParseSortKey("bogus").ok());
}

}  // namespace
}  // namespace hw::cli
