#include "graphite/carbon_naming.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace hw::graphite {
namespace {

using hostwatch::v1::Sample;

Sample MakeSample(std::string metric, std::map<std::string, std::string> tags = {}) {
  Sample s;
  s.set_metric(std::move(metric));
  for (auto& [k, v] : tags) (*s.mutable_tags())[k] = v;
  s.set_value(1.5);
  s.set_time_ms(1795301100123);
  return s;
}

std::string Name(const NamingOptions& o, std::string_view endpoint, const Sample& s) {
  std::string name;
  EXPECT_EQ(CarbonName(o, endpoint, s, &name), LineVerdict::kOk) << s.DebugString();
  return name;
}

TEST(CarbonNamingTest, PathJoinsPrefixEndpointMetricAndTagValuesInKeyOrder) {
  NamingOptions o;
  EXPECT_EQ(Name(o, "web-01.example", MakeSample("cpu.busy", {{"cpu", "total"}})),
            "hostwatch.web-01_example.cpu.busy.total");
  EXPECT_EQ(
      Name(o, "db1", MakeSample("disk.used_percent", {{"mount", "/var/lib"}, {"fstype", "ext4"}})),
      "hostwatch.db1.disk.used_percent.ext4._var_lib");
  o.prefix = "prod.sgp";
  EXPECT_EQ(Name(o, "h", MakeSample("load.1min")), "prod.sgp.h.load.1min");
  o.prefix = "";
  EXPECT_EQ(Name(o, "h", MakeSample("load.1min")), "h.load.1min");
}

TEST(CarbonNamingTest, TaggedSortsLikeCarbonAndRenamesReservedTags) {
  NamingOptions o;
  o.naming = Naming::kTagged;
  EXPECT_EQ(Name(o, "web-01.example", MakeSample("cpu.busy", {{"cpu", "total"}})),
            "cpu.busy;cpu=total;host=web-01.example");
  // carbon sorts ";k=v" strings: ";a0=" sorts before ";a=" ('0' < '=').
  EXPECT_EQ(Name(o, "h", MakeSample("m", {{"a", "1"}, {"a0", "2"}})), "m;a0=2;a=1;host=h");
  EXPECT_EQ(Name(o, "h", MakeSample("m", {{"host", "x"}, {"name", "y"}})),
            "m;host=h;tag_host=x;tag_name=y");
  EXPECT_EQ(Name(o, "h", MakeSample("m", {{"mount", "/var"}})), "m;host=h;mount=_var");
}

TEST(CarbonNamingTest, HostileTagValuesNeverMakeASecondLine) {
  const std::string max_len(256, 'x');
  const std::vector<std::string> values = {"a b", "a\nb",  "a\rb",           "a\tb",
                                           "..",  "a/b",   ";tag=1",         "ünï",
                                           "~x",  max_len, "a\x0b\x0c\x1b b"};
  for (Naming mode : {Naming::kPath, Naming::kTagged}) {
    NamingOptions o;
    o.naming = mode;
    for (const std::string& v : values) {
      Sample s = MakeSample("cpu.busy", {{"k", v}});
      std::string name;
      LineVerdict verdict = CarbonName(o, "h", s, &name);
      if (mode == Naming::kPath && v.size() > kMaxPathComponentBytes) {
        EXPECT_EQ(verdict, LineVerdict::kUnsendableName);  // no file name that long: no line
        continue;
      }
      ASSERT_EQ(verdict, LineVerdict::kOk) << v;
      std::string line;
      ASSERT_EQ(AppendCarbonLine(name, 2.5, 1795301100000, &line), LineVerdict::kOk);
      EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
      EXPECT_EQ(std::count(line.begin(), line.end(), ' '), 2) << line;
      for (char c : name) {
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_-.;=:", c))
            << "byte " << int(c) << " in " << name;
      }
      if (mode == Naming::kTagged) {
        EXPECT_EQ(std::count(name.begin(), name.end(), ';'), 2) << name;
        EXPECT_EQ(std::count(name.begin(), name.end(), '='), 2) << name;
      } else {
        EXPECT_EQ(std::count(name.begin(), name.end(), '.'), 4) << name;
      }
    }
  }
}

TEST(CarbonNamingTest, UnsendableNamesAreRefused) {
  NamingOptions o;
  std::string name;
  EXPECT_EQ(CarbonName(o, "h", MakeSample("cpu..busy"), &name), LineVerdict::kUnsendableName);
  EXPECT_EQ(CarbonName(o, "", MakeSample("cpu.busy"), &name), LineVerdict::kUnsendableName);
  EXPECT_EQ(CarbonName(o, "h", MakeSample("cpu", {{"k", ""}}), &name),
            LineVerdict::kUnsendableName);
  EXPECT_EQ(CarbonName(o, "h", MakeSample("cpu", {{"k", std::string(300, 'x')}}), &name),
            LineVerdict::kUnsendableName);
  std::map<std::string, std::string> many;
  for (int i = 0; i < 32; ++i) many["k" + std::to_string(i)] = std::string(200, 'v');
  EXPECT_EQ(CarbonName(o, "h", MakeSample("cpu", many), &name), LineVerdict::kUnsendableName);
  o.naming = Naming::kTagged;
  EXPECT_EQ(CarbonName(o, "h", MakeSample("cpu", many), &name), LineVerdict::kUnsendableName);
  EXPECT_EQ(CarbonName(o, "h", MakeSample(".cpu"), &name), LineVerdict::kUnsendableName);
}

TEST(CarbonNamingTest, LinesCarryExactValuesAndFlooredSeconds) {
  std::string out;
  EXPECT_EQ(AppendCarbonLine("a.b", 1.5, 1795301100999, &out), LineVerdict::kOk);
  EXPECT_EQ(AppendCarbonLine("a.b", 0.1, 1795301110000, &out), LineVerdict::kOk);
  EXPECT_EQ(AppendCarbonLine("a.b", -3e-300, 1500, &out), LineVerdict::kOk);
  EXPECT_EQ(AppendCarbonLine("a.b", 123456789012345678.0, 0, &out), LineVerdict::kOk);
  EXPECT_EQ(out,
            "a.b 1.5 1795301100\na.b 0.1 1795301110\na.b -3e-300 1\na.b 123456789012345680 0\n");
  EXPECT_EQ(AppendCarbonLine("a.b", std::nan(""), 0, &out), LineVerdict::kNonFinite);
  EXPECT_EQ(AppendCarbonLine("a.b", std::numeric_limits<double>::infinity(), 0, &out),
            LineVerdict::kNonFinite);
  EXPECT_EQ(AppendCarbonLine("a.b", -std::numeric_limits<double>::infinity(), 0, &out),
            LineVerdict::kNonFinite);
  std::string neg;
  AppendCarbonLine("x", 1, -1, &neg);
  EXPECT_EQ(neg, "x 1 -1\n");
}

}  // namespace
}  // namespace hw::graphite
