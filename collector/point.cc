#include "collector/point.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hw::collector {

std::string FormatValue(double v) {
  char buf[64];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "%.6f", v);
  std::string s = buf;
  // Trailing zeros carry no information and make hand-written expectations noisy.
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string FormatPoints(const std::vector<Point>& points) {
  std::vector<std::string> lines;
  lines.reserve(points.size());
  for (const Point& p : points) {
    Tags tags = p.tags;
    std::sort(tags.begin(), tags.end());
    std::string line = p.metric;
    if (!tags.empty()) {
      line += '{';
      for (size_t i = 0; i < tags.size(); ++i) {
        if (i > 0) line += ',';
        line += tags[i].first + "=" + tags[i].second;
      }
      line += '}';
    }
    line += ' ' + FormatValue(p.value);
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  std::string text;
  for (const std::string& l : lines) text += l + '\n';
  return text;
}

}  // namespace hw::collector
