#include "collector/plugins/exec/exec_output.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "collector/proc_text.h"
#include "common/naming/naming.h"

namespace hw::collector {
namespace {

// "metric;k=v;k2=v2" -> metric and tags; an error message when any part is invalid.
std::string ParseSeries(std::string_view series, Point* p) {
  size_t semi = series.find(';');
  p->metric = std::string(series.substr(0, semi));
  if (Status s = naming::ValidateMetric(p->metric); !s.ok()) return s.message();
  while (semi != std::string_view::npos) {
    series.remove_prefix(semi + 1);
    semi = series.find(';');
    const std::string_view kv = series.substr(0, semi);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) return "tag \"" + std::string(kv) + "\" has no '='";
    std::string key(kv.substr(0, eq)), value(kv.substr(eq + 1));
    if (Status s = naming::ValidateTagKey(key); !s.ok()) return s.message();
    if (Status s = naming::ValidateTagValue(value); !s.ok()) return s.message();
    p->tags.emplace_back(std::move(key), std::move(value));
  }
  if (p->tags.size() > naming::kMaxTags) return "more than 32 tags";
  return {};
}

void ParseLines(std::string_view text, int64_t default_time_ms, ExecParseResult* r) {
  size_t line_no = 0;
  ForEachLine(text, [&](std::string_view raw) {
    ++line_no;
    const std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') return;
    auto fail = [&](const std::string& why) {
      r->errors.push_back("line " + std::to_string(line_no) + ": " + why);
    };
    std::vector<std::string_view> f = SplitFields(line);
    if (f.size() < 2 || f.size() > 3) {
      fail("expected `metric value [unix_s]`");
      return;
    }
    Point p;
    if (std::string err = ParseSeries(f[0], &p); !err.empty()) {
      fail(err);
      return;
    }
    std::optional<double> v = ParseDouble(f[1]);
    if (!v || !std::isfinite(*v)) {
      fail("value \"" + std::string(f[1]) + "\" is not a finite number");
      return;
    }
    p.value = *v;
    p.time_ms = default_time_ms;
    if (f.size() == 3) {
      std::optional<double> ts = ParseDouble(f[2]);
      // Seconds since the epoch; a millisecond value would be 1000 years ahead and is refused.
      if (!ts || *ts <= 0 || *ts > 1.0e11) {
        fail("timestamp \"" + std::string(f[2]) + "\" is not unix seconds");
        return;
      }
      p.time_ms = static_cast<int64_t>(std::llround(*ts * 1000.0));
    }
    r->points.push_back(std::move(p));
  });
}

void Flatten(const google::protobuf::Struct& s, const std::string& prefix, int64_t time_ms,
             ExecParseResult* r) {
  for (const auto& [key, value] : s.fields()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    Point p;
    p.time_ms = time_ms;
    switch (value.kind_case()) {
      case google::protobuf::Value::kStructValue:
        Flatten(value.struct_value(), name, time_ms, r);
        continue;
      case google::protobuf::Value::kNumberValue:
        p.value = value.number_value();
        break;
      case google::protobuf::Value::kBoolValue:
        p.value = value.bool_value() ? 1 : 0;
        break;
      default:
        r->errors.push_back("\"" + name + "\": not a number, boolean or object");
        continue;
    }
    p.metric = name;
    if (Status st = naming::ValidateMetric(p.metric); !st.ok()) {
      r->errors.push_back(st.message());
      continue;
    }
    r->points.push_back(std::move(p));
  }
}

}  // namespace

ExecParseResult ParseExecOutput(std::string_view text, ExecFormat format, int64_t default_time_ms) {
  ExecParseResult r;
  if (format == ExecFormat::kLines) {
    ParseLines(text, default_time_ms, &r);
    return r;
  }
  if (Trim(text).empty()) return r;
  google::protobuf::Struct root;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(text), &root);
  if (!status.ok()) {
    r.errors.push_back("not a JSON object: " + status.ToString());
    return r;
  }
  Flatten(root, "", default_time_ms, &r);
  return r;
}

}  // namespace hw::collector
