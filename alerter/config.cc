#include "alerter/config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "common/naming/naming.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;

void ReadExpr(config::Section& r, std::string_view key, Expr* out) {
  std::string text;
  r.Read(key, &text);
  Result<Expr> e = ParseExpr(text);
  if (!e.ok()) {
    r.Error(key, e.status().message());
    return;
  }
  *out = std::move(e).value();
}

void ReadRule(config::Section& r, const std::set<std::string>& receivers, Rule* out) {
  r.Read("name", &out->name);
  if (out->name.empty()) {
    r.Error("name", "is required");
  } else if (!naming::ValidateTagKey(out->name).ok()) {
    r.Error("name", "\"" + out->name + "\" must be 1-64 of [A-Za-z0-9_]");
  }
  r.Read("metric", &out->metric);
  r.Read("event_rule", &out->event_rule);
  if (out->metric.empty() == out->event_rule.empty()) {
    r.Error("metric", "a rule needs exactly one of metric (samples) and event_rule (log events)");
  } else if (!out->metric.empty() && !naming::ValidateMetric(out->metric).ok()) {
    r.Error("metric", "\"" + out->metric + "\" is not a metric name (docs/wire_format.md, names)");
  }
  r.Read("endpoint", &out->endpoint);
  r.Check(!out->endpoint.empty(), "endpoint", "must be a glob, e.g. \"*\" or \"web-*\"");
  r.Read("tags", &out->tags);
  r.Check(out->tags.empty() || out->event_rule.empty(), "tags",
          "log-event rules select by event_rule and endpoint only");
  if (!r.Has("expr")) {
    r.Error("expr", "is required, e.g. \"all(#3) > 90\", \"nodata(120s)\", \"count(5m) >= 3\"");
  } else {
    ReadExpr(r, "expr", &out->expr);
    if (!out->event_rule.empty() && out->expr.fn != Expr::Fn::kCount && !out->expr.text.empty()) {
      r.Error("expr", "a log-event rule judges count(DURATION) OP NUMBER");
    }
    if (!out->metric.empty() && out->expr.fn == Expr::Fn::kCount) {
      r.Error("expr", "count(...) is for log-event rules (event_rule:)");
    }
  }
  if (r.Has("recover")) {
    Expr rec;
    ReadExpr(r, "recover", &rec);
    if (!rec.text.empty()) {
      if (!rec.is_series() || !out->expr.is_series()) {
        r.Error("recover", "only series rules (FN(#N) OP NUMBER) take a recover expression");
      }
      out->recover = rec;
    }
  }
  config::Duration for_d = out->for_duration;
  r.Read("for", &for_d);
  out->for_duration = for_d;
  std::string sev(SeverityWord(out->severity));
  r.ReadEnum("severity", &sev, {"debug", "info", "warning", "error", "critical"});
  out->severity = ParseSeverity(sev).value_or(pb::WARNING);
  r.Read("receivers", &out->receivers);
  for (const std::string& name : out->receivers) {
    if (receivers.count(name) == 0)
      r.Error("receivers", "\"" + name + "\" is not defined under alerter.receivers");
  }
  if (r.Has("repeat_interval")) {
    config::Duration d{0};
    r.Read("repeat_interval", &d);
    r.Check(d >= std::chrono::minutes(1), "repeat_interval", "must be at least 1m");
    out->repeat_interval = d;
  }
  r.Read("summary", &out->summary);
}

Status ReadAlerter(config::Document& doc, AlerterConfig* c) {
  config::Section root = doc.root();
  config::Section a = root.Child("alerter");
  a.Read("endpoint", &c->endpoint);
  if (!c->endpoint.empty() && !naming::ValidateEndpoint(c->endpoint).ok())
    a.Error("endpoint", "\"" + c->endpoint + "\" is not an endpoint name");
  a.Read("state_dir", &c->state_dir);
  a.Check(!c->state_dir.empty(), "state_dir", "must not be empty");
  a.Read("outbox_dir", &c->delivery.outbox_dir);
  a.Check(!c->delivery.outbox_dir.empty(), "outbox_dir", "must not be empty");
  {
    config::Duration keep = c->delivery.outbox_keep;
    a.Read("outbox_keep", &keep);
    a.Check(keep.count() == 0 || keep >= std::chrono::hours(1), "outbox_keep",
            "must be 0 (keep forever) or at least 1h");
    c->delivery.outbox_keep = keep;
  }
  a.Read("silences_file", &c->silences_file);
  a.Read("graphite_url", &c->pipeline.graphite_url);
  PipelineConfig& p = c->pipeline;
  config::Duration d = p.group_wait;
  a.Read("group_wait", &d);
  a.Check(d <= std::chrono::hours(1), "group_wait", "must be at most 1h");
  p.group_wait = d;
  d = p.group_interval;
  a.Read("group_interval", &d);
  a.Check(d >= std::chrono::seconds(1) && d <= std::chrono::hours(24), "group_interval",
          "must be 1s-24h");
  p.group_interval = d;
  d = p.repeat_interval;
  a.Read("repeat_interval", &d);
  a.Check(d >= std::chrono::minutes(1), "repeat_interval", "must be at least 1m");
  p.repeat_interval = d;
  a.Read("max_notifications_per_hour", &p.max_notifications_per_hour);
  a.Check(p.max_notifications_per_hour >= 1, "max_notifications_per_hour", "must be at least 1");
  a.Read("nodata_storm_percent", &p.nodata_storm_percent);
  a.Check(p.nodata_storm_percent >= 1 && p.nodata_storm_percent <= 100, "nodata_storm_percent",
          "must be 1-100");

  config::Section smtp = a.Child("smtp");
  SmtpConfig& s = c->delivery.smtp;
  smtp.Read("url", &s.url);
  smtp.Check(s.url.empty() || s.url.starts_with("smtp://") || s.url.starts_with("smtps://"), "url",
             "must be smtp://host:port or smtps://host:port (empty: .eml files in the outbox)");
  smtp.Read("from", &s.from);
  smtp.Check(!s.from.empty() && s.from.find_first_of("\r\n") == std::string::npos, "from",
             "must be one address");
  smtp.Read("username", &s.username);
  consumer::ReadSecretRef(smtp, "password", &s.password);
  smtp.Read("ca_file", &s.ca_file);
  d = s.timeout;
  smtp.Read("timeout", &d);
  smtp.Check(d >= std::chrono::seconds(1), "timeout", "must be at least 1s");
  s.timeout = d;

  std::set<std::string> receiver_names;
  if (a.Has("receivers")) c->delivery.receivers.clear();
  for (auto& [name, rs] : a.Entries("receivers")) {
    ReceiverConfig rc;
    rc.name = name;
    rs.Read("email", &rc.email);
    for (const std::string& addr : rc.email) {
      if (addr.find('@') == std::string::npos ||
          addr.find_first_of("\r\n\0, <>", 0, 7) != std::string::npos) {
        rs.Error("email", "\"" + addr + "\" is not a plain address (user@domain)");
      }
    }
    rs.Read("webhook", &rc.webhook);
    rs.Read("alertmanager", &rc.alertmanager);
    rs.Read("exec", &rc.exec);
    config::Duration t = rc.exec_timeout;
    rs.Read("exec_timeout", &t);
    rc.exec_timeout = t;
    rs.Check(
        !rc.email.empty() || !rc.webhook.empty() || !rc.alertmanager.empty() || !rc.exec.empty(),
        "email", "a receiver needs at least one of email, webhook, alertmanager, exec");
    receiver_names.insert(name);
    c->delivery.receivers[name] = std::move(rc);
  }
  if (!a.Has("receivers")) {
    for (const auto& [name, rc] : c->delivery.receivers) receiver_names.insert(name);
  }

  std::set<std::string> rule_names;
  if (a.Has("rules")) c->rules.clear();
  for (config::Section r : a.List("rules")) {
    Rule rule;
    ReadRule(r, receiver_names, &rule);
    if (!rule.name.empty() && !rule_names.insert(rule.name).second)
      r.Error("name", "rule \"" + rule.name + "\" is defined twice");
    c->rules.push_back(std::move(rule));
  }
  if (!a.Has("rules")) {
    for (const Rule& r : c->rules) rule_names.insert(r.name);
  }

  if (a.Has("inhibit")) p.inhibit.clear();
  for (config::Section i : a.List("inhibit")) {
    InhibitRule ir;
    i.Read("source_rule", &ir.source_rule);
    i.Check(rule_names.count(ir.source_rule) > 0, "source_rule",
            "\"" + ir.source_rule + "\" is not a rule under alerter.rules");
    i.Read("target_rules", &ir.target_rules);
    for (const std::string& t : ir.target_rules) {
      i.Check(rule_names.count(t) > 0, "target_rules",
              "\"" + t + "\" is not a rule under alerter.rules");
    }
    i.Read("equal", &ir.equal);
    p.inhibit.push_back(std::move(ir));
  }

  transport::ReadLinkConfig(root.Child("link"), root.Child("curve"), "alerter", &c->link, "latest");
  daemon::ReadLogOptions(root.Child("log"), &c->log);
  return doc.Finish();
}

AlerterConfig Defaults() {
  AlerterConfig c;
  c.link.start = "latest";
  ReceiverConfig ops;
  ops.name = "ops";
  ops.email = {"ops@example.com"};
  c.delivery.receivers["ops"] = ops;
  c.pipeline.inhibit.push_back({"host_silent", {}, {"endpoint"}});
  Rule cpu;
  cpu.name = "cpu_high";
  cpu.metric = "cpu.busy";
  cpu.tags = {{"cpu", "total"}};
  cpu.expr = ParseExpr("all(#3) > 90").value();
  cpu.recover = ParseExpr("avg(#3) < 80").value();
  cpu.severity = pb::CRITICAL;
  cpu.receivers = {"ops"};
  c.rules.push_back(cpu);
  Rule silent;
  silent.name = "host_silent";
  silent.metric = "agent.alive";
  silent.expr = ParseExpr("nodata(60s)").value();
  silent.severity = pb::CRITICAL;
  silent.receivers = {"ops"};
  c.rules.push_back(silent);
  Rule oom;
  oom.name = "oom";
  oom.event_rule = "kernel_oom";
  oom.expr = ParseExpr("count(5m) >= 1").value();
  oom.severity = pb::CRITICAL;
  oom.receivers = {"ops"};
  c.rules.push_back(oom);
  return c;
}

}  // namespace

std::string AlerterConfig::SilencesPath() const {
  if (!silences_file.empty()) return silences_file;
  return (std::filesystem::path(state_dir) / "silences.yaml").string();
}

Result<AlerterConfig> ParseAlerterConfig(std::string_view yaml, const std::string& display_name) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadString(yaml, display_name));
  AlerterConfig c = Defaults();
  HW_RETURN_IF_ERROR(ReadAlerter(*doc, &c));
  return c;
}

Result<AlerterConfig> LoadAlerterConfig(const std::string& path) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadFileOrDefaults(path));
  AlerterConfig c = Defaults();
  HW_RETURN_IF_ERROR(ReadAlerter(*doc, &c));
  return c;
}

std::string DescribeAlerterConfig(const AlerterConfig& c) {
  YAML::Emitter e;
  const PipelineConfig& p = c.pipeline;
  e << YAML::BeginMap << YAML::Key << "alerter" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "endpoint" << YAML::Value << YAML::DoubleQuoted << c.endpoint;
  e << YAML::Key << "state_dir" << YAML::Value << c.state_dir;
  e << YAML::Key << "outbox_dir" << YAML::Value << c.delivery.outbox_dir;
  e << YAML::Key << "outbox_keep" << YAML::Value << config::FormatDuration(c.delivery.outbox_keep);
  e << YAML::Key << "silences_file" << YAML::Value << YAML::DoubleQuoted << c.silences_file;
  e << YAML::Key << "graphite_url" << YAML::Value << YAML::DoubleQuoted << p.graphite_url;
  e << YAML::Key << "group_wait" << YAML::Value << config::FormatDuration(p.group_wait);
  e << YAML::Key << "group_interval" << YAML::Value << config::FormatDuration(p.group_interval);
  e << YAML::Key << "repeat_interval" << YAML::Value << config::FormatDuration(p.repeat_interval);
  e << YAML::Key << "max_notifications_per_hour" << YAML::Value << p.max_notifications_per_hour;
  e << YAML::Key << "nodata_storm_percent" << YAML::Value << p.nodata_storm_percent;
  const SmtpConfig& s = c.delivery.smtp;
  e << YAML::Key << "smtp" << YAML::Value << YAML::Flow << YAML::BeginMap;
  e << YAML::Key << "url" << YAML::Value << YAML::DoubleQuoted << s.url;
  e << YAML::Key << "from" << YAML::Value << YAML::DoubleQuoted << s.from;
  e << YAML::Key << "username" << YAML::Value << YAML::DoubleQuoted << s.username;
  e << YAML::Key << "password_file" << YAML::Value << YAML::DoubleQuoted << s.password.file;
  e << YAML::Key << "password_env" << YAML::Value << YAML::DoubleQuoted << s.password.env;
  e << YAML::Key << "ca_file" << YAML::Value << YAML::DoubleQuoted << s.ca_file;
  e << YAML::Key << "timeout" << YAML::Value << config::FormatDuration(s.timeout);
  e << YAML::EndMap;
  e << YAML::Key << "receivers" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, r] : c.delivery.receivers) {
    e << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
    e << YAML::Key << "email" << YAML::Value << YAML::Flow << r.email;
    e << YAML::Key << "webhook" << YAML::Value << YAML::DoubleQuoted << r.webhook;
    e << YAML::Key << "alertmanager" << YAML::Value << YAML::DoubleQuoted << r.alertmanager;
    e << YAML::Key << "exec" << YAML::Value << YAML::DoubleQuoted << r.exec;
    e << YAML::Key << "exec_timeout" << YAML::Value << config::FormatDuration(r.exec_timeout);
    e << YAML::EndMap;
  }
  e << YAML::EndMap;
  e << YAML::Key << "inhibit" << YAML::Value << YAML::BeginSeq;
  for (const InhibitRule& i : p.inhibit) {
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "source_rule" << YAML::Value << i.source_rule;
    if (!i.target_rules.empty())
      e << YAML::Key << "target_rules" << YAML::Value << YAML::Flow << i.target_rules;
    e << YAML::Key << "equal" << YAML::Value << YAML::Flow << i.equal << YAML::EndMap;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const Rule& r : c.rules) {
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << r.name;
    if (r.is_event()) {
      e << YAML::Key << "event_rule" << YAML::Value << r.event_rule;
    } else {
      e << YAML::Key << "metric" << YAML::Value << r.metric;
    }
    e << YAML::Key << "endpoint" << YAML::Value << YAML::DoubleQuoted << r.endpoint;
    if (!r.tags.empty()) {
      e << YAML::Key << "tags" << YAML::Value << YAML::Flow << YAML::BeginMap;
      for (const auto& [k, v] : r.tags) e << YAML::Key << k << YAML::Value << v;
      e << YAML::EndMap;
    }
    e << YAML::Key << "expr" << YAML::Value << YAML::DoubleQuoted << r.expr.text;
    if (r.recover)
      e << YAML::Key << "recover" << YAML::Value << YAML::DoubleQuoted << r.recover->text;
    if (r.for_duration.count() > 0)
      e << YAML::Key << "for" << YAML::Value << config::FormatDuration(r.for_duration);
    e << YAML::Key << "severity" << YAML::Value << std::string(SeverityWord(r.severity));
    e << YAML::Key << "receivers" << YAML::Value << YAML::Flow << r.receivers;
    if (r.repeat_interval) {
      e << YAML::Key << "repeat_interval" << YAML::Value
        << config::FormatDuration(*r.repeat_interval);
    }
    if (!r.summary.empty()) e << YAML::Key << "summary" << YAML::Value << r.summary;
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

}  // namespace hw::alerter
