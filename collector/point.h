// What plugins produce: one measurement, before it becomes a hostwatch.v1.Sample.
//
// A plain struct rather than the protobuf message: plugins build hundreds of these per tick and
// fixture tests compare them as text, neither of which needs protobuf's map machinery.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hw::collector {

using Tags = std::vector<std::pair<std::string, std::string>>;

struct Point {
  std::string metric;
  Tags tags;
  double value = 0;
  // Unix epoch ms. 0 until the scheduler stamps it with the tick time; exec lines that carry their
  // own unix_s keep theirs.
  int64_t time_ms = 0;
  uint32_t step_s = 0;   // the series' interval, stamped by whoever runs the plugin
  bool counter = false;  // Sample.kind COUNTER: a raw monotonic counter (self-metrics only)
};

// Appends {metric, tags, value} to *out. The common case in every plugin, so it gets a name.
inline void Emit(std::vector<Point>* out, std::string metric, double value, Tags tags = {}) {
  Point p;
  p.metric = std::move(metric);
  p.tags = std::move(tags);
  p.value = value;
  out->push_back(std::move(p));
}

// "metric{k=v,k2=v2} value", tags sorted, one point per line, lines sorted: the format of the
// fixture files (expected.<n>.out). Integral values print without a decimal point; others with at
// most 6 decimals, so the text is stable across compilers.
std::string FormatPoints(const std::vector<Point>& points);
std::string FormatValue(double v);

}  // namespace hw::collector
