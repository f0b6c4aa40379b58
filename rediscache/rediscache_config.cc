#include "rediscache/rediscache_config.h"

#include "common/strings/strings.h"

namespace hw::rediscache {
namespace {

Status ReadRedisCache(config::Document& doc, RedisCacheConfig* c) {
  config::Section root = doc.root();
  config::Section rc = root.Child("rediscache");
  rc.Read("redis", &c->redis);
  c->addresses.clear();
  if (c->redis.empty()) rc.Error("redis", "must list at least one redis://host:port");
  for (const std::string& url : c->redis) {
    Result<RedisAddress> a = ParseRedisUrl(url);
    if (!a.ok()) {
      rc.Error("redis", a.status().message());
    } else {
      c->addresses.push_back(*a);
    }
  }
  rc.Read("prefix", &c->prefix);
  // A brace in the prefix would become the Redis Cluster hash tag of every key.
  rc.Check(c->prefix.size() <= 64 && c->prefix.find_first_of("{} \r\n") == std::string::npos,
           "prefix", "must be at most 64 bytes without braces, spaces or newlines");
  rc.Read("username", &c->username);
  consumer::ReadSecretRef(rc, "password", &c->password);
  rc.Read("timeout", &c->timeout);
  rc.Check(c->timeout >= std::chrono::milliseconds(10) && c->timeout <= std::chrono::minutes(5),
           "timeout", "must be 10ms-5m");
  config::Section hist = rc.Child("history");
  hist.Read("points", &c->history_points);
  hist.Check(c->history_points >= 1 && c->history_points <= 100000, "points", "must be 1-100000");
  hist.Read("metrics", &c->history_metrics);
  rc.Read("events_maxlen", &c->events_maxlen);
  rc.Check(c->events_maxlen >= 1, "events_maxlen", "must be at least 1");
  rc.Read("host_ttl", &c->host_ttl);
  rc.Check(c->host_ttl >= std::chrono::minutes(1), "host_ttl", "must be at least 1m");
  transport::ReadLinkConfig(root.Child("link"), root.Child("curve"), "rediscache", &c->link,
                            "earliest");
  daemon::ReadLogOptions(root.Child("log"), &c->log);
  return doc.Finish();
}

Result<RedisCacheConfig> Read(config::Document& doc) {
  RedisCacheConfig c;
  HW_RETURN_IF_ERROR(ReadRedisCache(doc, &c));
  return c;
}

}  // namespace

Result<RedisAddress> ParseRedisUrl(const std::string& url) {
  std::string_view rest = url;
  if (rest.starts_with("redis://")) rest.remove_prefix(8);
  if (rest.ends_with("/")) rest.remove_suffix(1);
  if (rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("\"" + url +
                                   "\": no credentials in the URL (use username and "
                                   "password_file or password_env)");
  }
  if (url.starts_with("rediss://")) {
    return Status::InvalidArgument("\"" + url +
                                   "\": TLS is not supported; put a local TLS proxy in front");
  }
  RedisAddress a;
  std::string_view host = rest;
  if (rest.starts_with("[")) {  // [::1]:6379
    const size_t close = rest.find(']');
    if (close == std::string_view::npos)
      return Status::InvalidArgument("\"" + url + "\": bad host");
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest[0] != ':')
      return Status::InvalidArgument("\"" + url + "\": bad port");
  } else {
    const size_t colon = rest.rfind(':');
    host = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
  }
  if (!rest.empty()) {
    std::optional<uint64_t> port = strings::ParseU64(rest.substr(1));
    if (!port || *port == 0 || *port > 65535)
      return Status::InvalidArgument("\"" + url + "\": the port must be 1-65535");
    a.port = static_cast<uint16_t>(*port);
  }
  if (host.empty() || host.find('/') != std::string_view::npos)
    return Status::InvalidArgument("\"" + url + "\" is not redis://host:port");
  a.host = std::string(host);
  return a;
}

Result<RedisCacheConfig> ParseRedisCacheConfig(std::string_view yaml,
                                               const std::string& display_name) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadString(yaml, display_name));
  return Read(*doc);
}

Result<RedisCacheConfig> LoadRedisCacheConfig(const std::string& path) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadFileOrDefaults(path));
  return Read(*doc);
}

std::string DescribeRedisCacheConfig(const RedisCacheConfig& c) {
  config::YamlWriter w;
  w.BeginMap("");
  w.BeginMap("rediscache");
  w.Value("redis", c.redis);
  w.Value("prefix", c.prefix);
  w.Value("username", c.username);
  w.Value("password_file", c.password.file);
  w.Value("password_env", c.password.env);
  w.Value("timeout", c.timeout);
  w.BeginMap("history");
  w.Value("points", c.history_points);
  w.Value("metrics", c.history_metrics);
  w.EndMap();
  w.Value("events_maxlen", c.events_maxlen);
  w.Value("host_ttl", c.host_ttl);
  w.EndMap();
  transport::WriteLinkConfig(c.link, &w);
  daemon::WriteLogOptions(c.log, &w);
  w.EndMap();
  return w.str();
}

}  // namespace hw::rediscache
