#include "graphite/graphite_config.h"

#include <set>

#include "common/config/config.h"

namespace hw::graphite {
namespace {

bool ValidPrefix(std::string_view prefix) {
  if (prefix.empty()) return true;
  size_t start = 0;
  for (;;) {
    size_t dot = prefix.find('.', start);
    std::string_view seg = prefix.substr(start, dot == prefix.npos ? prefix.npos : dot - start);
    if (seg.empty() || SanitizePathComponent(seg) != seg) return false;
    if (dot == prefix.npos) return true;
    start = dot + 1;
  }
}

Status ReadGraphite(config::Document& doc, GraphiteConfig* c) {
  config::Section root = doc.root();
  config::Section s = root.Child("graphite");
  GraphiteOptions& g = c->graphite;

  std::vector<std::string> destinations = {"127.0.0.1:2003"};
  s.Read("destinations", &destinations);
  s.Check(!destinations.empty(), "destinations", "at least one destination is needed");
  std::set<std::pair<std::string, std::string>> nodes;
  for (const std::string& text : destinations) {
    Result<CarbonDestination> d = ParseCarbonDestination(text);
    if (!d.ok()) {
      s.Error("destinations", d.status().message());
      continue;
    }
    // carbon's rule: a ring node is (server, instance); two entries with the same pair collide.
    if (!nodes.insert({d->server, d->instance.value_or("\x01None")}).second)
      s.Error("destinations", "\"" + text + "\": the same host and instance twice");
    g.destinations.push_back(*d);
  }

  std::string relay_method = "consistent_hash";
  s.ReadEnum("relay_method", &relay_method, {"consistent_hash", "all"});
  g.relay_all = relay_method == "all";
  std::string hash = "carbon_ch";
  s.ReadEnum("hash", &hash, {"carbon_ch", "fnv1a_ch"});
  g.hash = hash == "fnv1a_ch" ? HashType::kFnv1aCh : HashType::kCarbonCh;
  if (g.hash == HashType::kFnv1aCh && !g.relay_all && g.destinations.size() > 1) {
    // fnv1a_ch hashes only the instance: without instances every node gets the same positions.
    for (const CarbonDestination& d : g.destinations) {
      if (!d.instance) {
        s.Error("hash", "fnv1a_ch needs an instance on every destination (host:port:instance)");
        break;
      }
    }
  }
  s.Read("replication", &g.replication);
  s.Check(g.replication >= 1 && g.replication <= 16, "replication", "must be 1-16");
  s.Read("diverse_replicas", &g.diverse_replicas);
  std::string naming = "path";
  s.ReadEnum("naming", &naming, {"path", "tagged"});
  g.naming.naming = naming == "tagged" ? Naming::kTagged : Naming::kPath;
  s.Read("prefix", &g.naming.prefix);
  s.Check(ValidPrefix(g.naming.prefix), "prefix",
          "must be dot-separated [A-Za-z0-9_-] segments (or empty)");
  config::Duration settle = g.settle;
  s.Read("settle", &settle);
  s.Check(settle >= std::chrono::milliseconds(100) && settle <= std::chrono::minutes(10), "settle",
          "must be 100ms-10m");
  g.settle = settle;
  s.Read("spool_dir", &g.spool_dir);
  s.Check(!g.spool_dir.empty(), "spool_dir", "must not be empty");
  s.ReadSize("spool_max_bytes", &g.spool_max_bytes);
  s.Check(g.spool_max_bytes >= (1u << 20), "spool_max_bytes", "must be at least 1MiB");
  s.Read("graphite_web_url", &g.graphite_web_url);
  s.Check(g.graphite_web_url.empty() || g.graphite_web_url.rfind("http://", 0) == 0 ||
              g.graphite_web_url.rfind("https://", 0) == 0,
          "graphite_web_url", "must be an http:// or https:// URL (or empty)");

  transport::ReadLinkConfig(root.Child("link"), root.Child("curve"), "graphite", &c->link,
                            "earliest");
  daemon::ReadLogOptions(root.Child("log"), &c->log);
  return doc.Finish();
}

}  // namespace

Result<GraphiteConfig> ParseGraphiteConfig(std::string_view yaml, const std::string& display_name) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadString(yaml, display_name));
  GraphiteConfig c;
  HW_RETURN_IF_ERROR(ReadGraphite(*doc, &c));
  return c;
}

Result<GraphiteConfig> LoadGraphiteConfig(const std::string& path) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadFileOrDefaults(path));
  GraphiteConfig c;
  HW_RETURN_IF_ERROR(ReadGraphite(*doc, &c));
  return c;
}

std::string DescribeGraphiteConfig(const GraphiteConfig& c) {
  const GraphiteOptions& g = c.graphite;
  std::vector<std::string> destinations;
  for (const CarbonDestination& d : g.destinations) destinations.push_back(d.ToString());
  config::YamlWriter w;
  w.BeginMap("");
  w.BeginMap("graphite")
      .Value("destinations", destinations)
      .Value("relay_method", g.relay_all ? "all" : "consistent_hash")
      .Value("hash", g.hash == HashType::kFnv1aCh ? "fnv1a_ch" : "carbon_ch")
      .Value("replication", g.replication)
      .Value("diverse_replicas", g.diverse_replicas)
      .Value("naming", g.naming.naming == Naming::kTagged ? "tagged" : "path")
      .Value("prefix", g.naming.prefix)
      .Value("settle", config::Duration(g.settle))
      .Value("spool_dir", g.spool_dir)
      .Size("spool_max_bytes", g.spool_max_bytes)
      .Value("graphite_web_url", g.graphite_web_url);
  w.EndMap();
  transport::WriteLinkConfig(c.link, &w);
  daemon::WriteLogOptions(c.log, &w);
  w.EndMap();
  return w.str();
}

}  // namespace hw::graphite
