#include "logwatch/logwatch_config.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "common/naming/naming.h"

namespace hw::logwatch {
namespace {

namespace pb = hostwatch::v1;

constexpr std::pair<std::string_view, pb::Severity> kSeverities[] = {
    {"debug", pb::DEBUG}, {"info", pb::INFO},         {"warning", pb::WARNING},
    {"error", pb::ERROR}, {"critical", pb::CRITICAL},
};

// Checks that pattern compiles the way rule_set.cc will compile it; returns the named groups in
// group order.
bool CheckRegex(config::Section& s, std::string_view key, const std::string& pattern,
                std::vector<std::string>* names) {
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_log_errors(false);
  RE2 re(pattern, opts);
  if (!re.ok()) {
    s.Error(key, "does not compile (RE2 syntax): " + re.error());
    return false;
  }
  if (names != nullptr) {
    std::vector<std::pair<int, std::string>> by_index;
    for (const auto& [name, index] : re.NamedCapturingGroups()) by_index.emplace_back(index, name);
    std::sort(by_index.begin(), by_index.end());
    for (auto& [index, name] : by_index) names->push_back(std::move(name));
  }
  return true;
}

void ReadRule(config::Section& r, uint64_t max_line_bytes, RuleConfig* out) {
  r.Read("name", &out->name);
  if (out->name.empty()) {
    r.Error("name", "is required");
  } else if (out->name.size() > naming::kMaxRuleBytes ||
             !naming::ValidateMetric("log." + out->name + ".count").ok() ||
             out->name.find('.') != std::string::npos) {
    r.Error("name",
            "\"" + out->name + "\" must be 1-200 of [A-Za-z0-9_-] (it becomes log.<name>.count)");
  }
  r.Read("match", &out->match);
  if (out->match.empty()) {
    r.Error("match", "is required");
  } else if (CheckRegex(r, "match", out->match, &out->captures)) {
    if (out->captures.size() > naming::kMaxFields)
      r.Error("match", "has more than 64 named captures");
    for (const std::string& c : out->captures) {
      if (!naming::ValidateTagKey(c).ok()) {
        r.Error("match", "capture name \"" + c + "\" must be 1-64 of [A-Za-z0-9_]");
      }
    }
  }
  r.Read("exclude", &out->exclude);
  if (!out->exclude.empty()) CheckRegex(r, "exclude", out->exclude, nullptr);
  r.Read("multiline_start", &out->multiline_start);
  if (!out->multiline_start.empty())
    CheckRegex(r, "multiline_start", out->multiline_start, nullptr);

  std::string severity(SeverityName(out->severity));
  r.ReadEnum("severity", &severity, {"debug", "info", "warning", "error", "critical"});
  for (const auto& [word, value] : kSeverities) {
    if (word == severity) out->severity = value;
  }

  std::vector<std::string> emit = {"event"};
  r.Read("emit", &emit);
  out->emit_event = out->emit_count = out->emit_value = false;
  for (const std::string& e : emit) {
    if (e == "event") {
      out->emit_event = true;
    } else if (e == "count") {
      out->emit_count = true;
    } else if (e == "value") {
      out->emit_value = true;
    } else {
      r.Error("emit", "\"" + e + "\" is not one of event, count, value");
    }
  }
  r.Check(!emit.empty(), "emit", "must name at least one of event, count, value");
  r.Read("max_events_per_s", &out->max_events_per_s);
  r.Read("values", &out->values);
  for (const std::string& v : out->values) {
    if (std::find(out->captures.begin(), out->captures.end(), v) == out->captures.end()) {
      r.Error("values", "\"" + v + "\" is not a named capture of match");
    }
  }
  if (out->emit_value) {
    r.Check(!out->captures.empty(), "emit",
            "value needs a named capture in match, e.g. (?P<ms>\\d+)");
    const std::vector<std::string>& vs = out->values.empty() ? out->captures : out->values;
    for (const std::string& v : vs) {
      if (!naming::ValidateMetric("log." + out->name + "." + v + ".p99").ok()) {
        r.Error("values", "\"" + v + "\" does not make a valid metric name");
      }
    }
  }
  (void)max_line_bytes;
}

Status ReadLogwatch(config::Document& doc, LogwatchConfig* c) {
  config::Section root = doc.root();
  config::Section lw = root.Child("logwatch");
  lw.Read("endpoint", &c->endpoint);
  if (!c->endpoint.empty()) {
    if (Status s = naming::ValidateEndpoint(c->endpoint); !s.ok())
      lw.Error("endpoint", s.message());
  }
  lw.Read("host_tags", &c->host_tags);
  for (const auto& [k, v] : c->host_tags) {
    if (!naming::ValidateTagKey(k).ok() || !naming::ValidateTagValue(v).ok()) {
      lw.Error("host_tags", "\"" + k + "\": not a valid tag (docs/wire_format.md, names)");
    }
  }
  lw.Read("state_dir", &c->state_dir);
  lw.Check(!c->state_dir.empty(), "state_dir", "must not be empty");
  lw.Read("interval", &c->interval);
  lw.Check(c->interval >= std::chrono::seconds(1) && c->interval <= std::chrono::hours(1),
           "interval", "must be 1s-1h");
  lw.ReadSize("max_line_bytes", &c->max_line_bytes);
  lw.Check(c->max_line_bytes >= 256 && c->max_line_bytes <= naming::kMaxFieldValueBytes,
           "max_line_bytes", "must be 256B-64KiB (a LogEvent carries at most 64KiB of line)");

  // The skeleton's nginx rule is the default only when neither list is given: a config that
  // names its own rules must not inherit a file entry pointing at a rule it does not have.
  if (lw.Has("files") || lw.Has("rules")) {
    c->files.clear();
    c->rules.clear();
  }
  for (config::Section r : lw.List("rules")) {
    RuleConfig rule;
    ReadRule(r, c->max_line_bytes, &rule);
    c->rules.push_back(std::move(rule));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < c->rules.size(); ++i) {
    if (!c->rules[i].name.empty() && !names.insert(c->rules[i].name).second) {
      lw.Error("rules", "rule \"" + c->rules[i].name + "\" is defined twice");
    }
  }
  for (config::Section f : lw.List("files")) {
    FileConfig file;
    f.Read("path", &file.path);
    f.Check(!file.path.empty() && file.path.size() <= naming::kMaxPathBytes &&
                file.path.find('\0') == std::string::npos,
            "path", "must be a file path or glob of 1-4096 bytes");
    f.Read("rules", &file.rules);
    f.Check(!file.rules.empty(), "rules", "must name at least one rule");
    for (const std::string& r : file.rules) {
      if (names.count(r) == 0)
        f.Error("rules", "\"" + r + "\" is not a rule defined under logwatch.rules");
    }
    std::string from = "end";
    f.ReadEnum("from", &from, {"end", "beginning"});
    file.from_beginning = from == "beginning";
    c->files.push_back(std::move(file));
  }
  transport::ReadLinkConfig(root.Child("link"), root.Child("curve"), "logwatch", &c->link);
  daemon::ReadLogOptions(root.Child("log"), &c->log);
  return doc.Finish();
}

LogwatchConfig Defaults() {
  LogwatchConfig c;
  c.files.push_back({"/var/log/nginx/access.log", {"nginx_5xx"}, false});
  RuleConfig r;
  r.name = "nginx_5xx";
  r.match = R"(" (?P<status>5\d\d) )";
  r.captures = {"status"};
  r.severity = pb::ERROR;
  r.emit_event = r.emit_count = true;
  r.max_events_per_s = 10;
  c.rules.push_back(std::move(r));
  return c;
}

}  // namespace

std::string_view SeverityName(pb::Severity s) {
  for (const auto& [word, value] : kSeverities) {
    if (value == s) return word;
  }
  return "warning";
}

Result<LogwatchConfig> ParseLogwatchConfig(std::string_view yaml, const std::string& display_name) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadString(yaml, display_name));
  LogwatchConfig c = Defaults();
  HW_RETURN_IF_ERROR(ReadLogwatch(*doc, &c));
  return c;
}

Result<LogwatchConfig> LoadLogwatchConfig(const std::string& path) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadFileOrDefaults(path));
  LogwatchConfig c = Defaults();
  HW_RETURN_IF_ERROR(ReadLogwatch(*doc, &c));
  return c;
}

std::string DescribeLogwatchConfig(const LogwatchConfig& c) {
  // YamlWriter has no lists of mappings, so the logwatch section is emitted with yaml-cpp (which
  // quotes regexes correctly) and the shared sections with the shared writers.
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "logwatch" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "endpoint" << YAML::Value << YAML::DoubleQuoted << c.endpoint;
  e << YAML::Key << "host_tags" << YAML::Value << YAML::Flow << YAML::BeginMap;
  for (const auto& [k, v] : c.host_tags) e << YAML::Key << k << YAML::Value << v;
  e << YAML::EndMap;
  e << YAML::Key << "state_dir" << YAML::Value << c.state_dir;
  e << YAML::Key << "interval" << YAML::Value << config::FormatDuration(c.interval);
  e << YAML::Key << "max_line_bytes" << YAML::Value << config::FormatSize(c.max_line_bytes);
  e << YAML::Key << "files" << YAML::Value << YAML::BeginSeq;
  for (const FileConfig& f : c.files) {
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "path" << YAML::Value << f.path;
    e << YAML::Key << "rules" << YAML::Value << YAML::Flow << f.rules;
    e << YAML::Key << "from" << YAML::Value << (f.from_beginning ? "beginning" : "end");
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const RuleConfig& r : c.rules) {
    std::vector<std::string> emit;
    if (r.emit_event) emit.push_back("event");
    if (r.emit_count) emit.push_back("count");
    if (r.emit_value) emit.push_back("value");
    e << YAML::BeginMap << YAML::Key << "name" << YAML::Value << r.name;
    e << YAML::Key << "match" << YAML::Value << YAML::SingleQuoted << r.match;
    if (!r.exclude.empty())
      e << YAML::Key << "exclude" << YAML::Value << YAML::SingleQuoted << r.exclude;
    if (!r.multiline_start.empty()) {
      e << YAML::Key << "multiline_start" << YAML::Value << YAML::SingleQuoted << r.multiline_start;
    }
    e << YAML::Key << "severity" << YAML::Value << std::string(SeverityName(r.severity));
    e << YAML::Key << "emit" << YAML::Value << YAML::Flow << emit;
    e << YAML::Key << "max_events_per_s" << YAML::Value << r.max_events_per_s;
    if (!r.values.empty()) e << YAML::Key << "values" << YAML::Value << YAML::Flow << r.values;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap << YAML::EndMap;

  config::YamlWriter w;
  w.BeginMap("");
  transport::WriteLinkConfig(c.link, &w);
  daemon::WriteLogOptions(c.log, &w);
  w.EndMap();
  return std::string(e.c_str()) + "\n" + w.str();
}

}  // namespace hw::logwatch
