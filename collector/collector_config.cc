#include "collector/collector_config.h"

#include "collector/builtin_plugins.h"
#include "common/naming/naming.h"

namespace hw::collector {
namespace {

Status ReadCollector(config::Document& doc, CollectorConfig* c) {
  config::Section root = doc.root();
  config::Section s = root.Child("collector");
  s.Read("endpoint", &c->endpoint);
  if (!c->endpoint.empty()) {
    if (Status st = naming::ValidateEndpoint(c->endpoint); !st.ok())
      s.Error("endpoint", st.message());
  }
  s.Read("host_tags", &c->host_tags);
  s.Check(c->host_tags.size() <= naming::kMaxTags / 2, "host_tags",
          "at most 16: every sample's own tags must still fit in 32");
  for (const auto& [k, v] : c->host_tags) {
    if (Status st = naming::ValidateTagKey(k); !st.ok()) s.Error("host_tags", st.message());
    if (Status st = naming::ValidateTagValue(v); !st.ok()) s.Error("host_tags", st.message());
  }
  s.Read("interval", &c->interval);
  s.Check(c->interval >= std::chrono::seconds(1) && c->interval <= std::chrono::hours(1),
          "interval", "must be 1s-1h");
  s.Read("proc_root", &c->proc_root);
  s.Check(!c->proc_root.empty(), "proc_root", "must not be empty");
  s.Read("sys_root", &c->sys_root);
  s.Check(!c->sys_root.empty(), "sys_root", "must not be empty");

  // Unknown plugin names are unread keys, which Finish() reports with their line.
  config::Section plugins = s.Child("plugins");
  for (const PluginDescriptor& d : BuiltinPlugins()) {
    config::Section ps = plugins.Child(d.name);
    PluginConfig pc;
    pc.name = std::string(d.name);
    pc.enabled = d.enabled_by_default;
    pc.interval = c->interval;
    ps.Read("enabled", &pc.enabled);
    ps.Read("interval", &pc.interval);
    ps.Check(pc.interval >= std::chrono::seconds(1) && pc.interval <= std::chrono::hours(1),
             "interval", "must be 1s-1h");
    // Ticks are whole seconds: step_s on the wire is an integer number of seconds.
    ps.Check(pc.interval.count() % 1000 == 0, "interval", "must be a whole number of seconds");
    if (d.read_options != nullptr) pc.options = d.read_options(ps);
    c->plugins.push_back(std::move(pc));
  }
  s.Check(c->interval.count() % 1000 == 0, "interval", "must be a whole number of seconds");

  transport::ReadLinkConfig(root.Child("link"), root.Child("curve"), "collector", &c->link);
  daemon::ReadLogOptions(root.Child("log"), &c->log);
  return doc.Finish();
}

}  // namespace

std::string CollectorConfig::EffectiveEndpoint() const {
  return endpoint.empty() ? naming::LocalEndpoint() : endpoint;
}

const PluginConfig* CollectorConfig::Plugin(std::string_view name) const {
  for (const PluginConfig& p : plugins) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<CollectorConfig> ParseCollectorConfig(std::string_view yaml,
                                             const std::string& display_name) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadString(yaml, display_name));
  CollectorConfig c;
  HW_RETURN_IF_ERROR(ReadCollector(*doc, &c));
  return c;
}

Result<CollectorConfig> LoadCollectorConfig(const std::string& path) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadFileOrDefaults(path));
  CollectorConfig c;
  HW_RETURN_IF_ERROR(ReadCollector(*doc, &c));
  return c;
}

std::string DescribeCollectorConfig(const CollectorConfig& c) {
  config::YamlWriter w;
  w.BeginMap("");
  w.BeginMap("collector")
      .Value("endpoint", c.endpoint)
      .Value("host_tags", c.host_tags)
      .Value("interval", c.interval)
      .Value("proc_root", c.proc_root)
      .Value("sys_root", c.sys_root);
  w.BeginMap("plugins");
  for (const PluginConfig& p : c.plugins) {
    w.BeginMap(p.name).Value("enabled", p.enabled).Value("interval", p.interval);
    if (p.options) p.options->Describe(&w);
    w.EndMap();
  }
  w.EndMap();  // plugins
  w.EndMap();  // collector
  transport::WriteLinkConfig(c.link, &w);
  daemon::WriteLogOptions(c.log, &w);
  w.EndMap();
  return w.str();
}

}  // namespace hw::collector
