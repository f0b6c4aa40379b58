#include "cli/hosts.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstdio>

#include "common/consumer/secret.h"
#include "common/daemon/flags.h"
#include "common/strings/strings.h"
#include "rediscache/key_schema.h"
#include "rediscache/redis_client.h"

namespace hw::cli {
namespace {

namespace pb = hostwatch::v1;
using rediscache::Command;
using rediscache::Reply;

// "metric;k=v;k2=v2" and "<value> <time_ms>" back into a Sample.
bool ParseLatest(const std::string& series, const std::string& value, pb::Sample* s) {
  const std::vector<std::string_view> parts = strings::Split(series, ';');
  s->set_metric(std::string(parts[0]));
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string_view::npos) continue;
    (*s->mutable_tags())[std::string(parts[i].substr(0, eq))] =
        std::string(parts[i].substr(eq + 1));
  }
  const size_t sp = value.find(' ');
  std::optional<double> v = strings::ParseDouble(std::string_view(value).substr(0, sp));
  std::optional<int64_t> t = sp == std::string::npos
                                 ? std::nullopt
                                 : strings::ParseI64(std::string_view(value).substr(sp + 1));
  if (!v || !t) return false;
  s->set_value(*v);
  s->set_time_ms(*t);
  return true;
}

std::string Number(double v) {
  if (v < 0) return "null";
  return rediscache::FormatValue(v);
}

std::map<std::string, std::string> Hash(const Reply& r) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2)
    m[r.elements[i].str] = r.elements[i + 1].str;
  return m;
}

}  // namespace

std::string RenderHosts(const CachedFleet& fleet, SortKey key, int64_t now_ms,
                        int64_t stale_after_ms, bool json) {
  FleetView view;
  for (const auto& [endpoint, seen] : fleet.hosts) {
    pb::Envelope env;
    env.set_sent_ms(seen);
    env.mutable_samples()->set_endpoint(endpoint);
    auto it = fleet.latest.find(endpoint);
    if (it != fleet.latest.end()) {
      for (const auto& [series, value] : it->second) {
        pb::Sample s;
        // The registry's last seen is the host's; a latest value may be older (a metric it
        // stopped sending), so it must not move last seen.
        if (ParseLatest(series, value, &s)) {
          s.set_time_ms(std::min(s.time_ms(), seen));
          *env.mutable_samples()->add_samples() = std::move(s);
        }
      }
    }
    view.Observe(env);
  }
  pb::Envelope alerts;
  for (const auto& [k, text] : fleet.active_alerts) {
    pb::Alert a;
    google::protobuf::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(text, &a, o).ok()) continue;
    if (a.state() == pb::Alert::FIRING && fleet.hosts.count(a.endpoint()) != 0)
      *alerts.mutable_alerts()->add_alerts() = std::move(a);
  }
  view.Observe(alerts);

  auto tags_of = [&](const std::string& e) -> std::string {
    auto it = fleet.host.find(e);
    if (it == fleet.host.end()) return {};
    auto t = it->second.find("tags");
    return t == it->second.end() ? std::string() : t->second;
  };
  const std::vector<HostRow> rows = view.Rows(key, now_ms, stale_after_ms);
  std::string out;
  if (json) {
    out = "[";
    for (const HostRow& r : rows) {
      if (out.size() > 1) out += ",";
      std::string tags = tags_of(r.endpoint);
      if (tags.empty()) tags = "{}";
      out += "\n  {\"host\":" + rediscache::JsonString(r.endpoint) +
             ",\"last_seen_ms\":" + std::to_string(r.last_seen_ms) +
             ",\"stale\":" + (now_ms - r.last_seen_ms > stale_after_ms ? "true" : "false") +
             ",\"tags\":" + tags + ",\"cpu\":" + Number(r.cpu) + ",\"mem\":" + Number(r.mem) +
             ",\"disk\":" + Number(r.disk) + ",\"load\":" + Number(r.load) +
             ",\"net\":" + Number(r.net) + ",\"firing_alerts\":" + std::to_string(r.alerts) + "}";
    }
    return out + (rows.empty() ? "]\n" : "\n]\n");
  }
  size_t host_width = 4;
  for (const HostRow& r : rows) host_width = std::max(host_width, r.endpoint.size());
  char buf[512];
  auto num = [](double v, int decimals) {
    if (v < 0) return std::string("-");
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return std::string(b);
  };
  std::snprintf(buf, sizeof buf, "%-*s %-8s %6s %6s %6s %6s %6s  %s\n",
                static_cast<int>(host_width), "HOST", "SEEN", "CPU%", "MEM%", "DISK%", "LOAD1",
                "ALERTS", "TAGS");
  out += buf;
  for (const HostRow& r : rows) {
    const int64_t age_s = std::max<int64_t>(0, (now_ms - r.last_seen_ms) / 1000);
    std::string seen = age_s < 120      ? std::to_string(age_s) + "s"
                       : age_s < 7200   ? std::to_string(age_s / 60) + "m"
                       : age_s < 172800 ? std::to_string(age_s / 3600) + "h"
                                        : std::to_string(age_s / 86400) + "d";
    if (now_ms - r.last_seen_ms > stale_after_ms) seen += "!";
    std::snprintf(buf, sizeof buf, "%-*s %-8s %6s %6s %6s %6s %6s  %s\n",
                  static_cast<int>(host_width), r.endpoint.c_str(), seen.c_str(),
                  num(r.cpu, 1).c_str(), num(r.mem, 1).c_str(), num(r.disk, 1).c_str(),
                  num(r.load, 2).c_str(), r.alerts ? std::to_string(r.alerts).c_str() : "-",
                  tags_of(r.endpoint).c_str());
    out += buf;
  }
  size_t stale = 0;
  for (const HostRow& r : rows) stale += now_ms - r.last_seen_ms > stale_after_ms;
  out += std::to_string(rows.size()) + " hosts, " + std::to_string(stale) +
         " stale (marked !: not seen for " + std::to_string(stale_after_ms / 1000) + "s)\n";
  return out;
}

const std::string_view kHostsUsage =
    "usage: hostwatch hosts [--redis URL[,URL...]] [--prefix P] [--user U]\n"
    "                       [--password-file F | --password-env NAME] [--sort KEY]\n"
    "                       [--stale S] [--timeout S] [--json]\n"
    "\n"
    "The fleet from the Redis cache that hostwatch-rediscache keeps: host, last seen, tags, CPU,\n"
    "memory, disk, load and firing alerts, one row per host in <prefix>hosts.\n"
    "  --redis     redis://host:port (default redis://127.0.0.1:6379); several: cluster seeds\n"
    "  --sort      host, cpu, mem, load, disk, alerts or seen (default host)\n"
    "  --stale     a host not seen for this long is marked stale (default 5m)\n"
    "  --json      a JSON array of {host, last_seen_ms, stale, tags, cpu, mem, disk, load, net,\n"
    "              firing_alerts} (null where unknown)\n";

int RunHosts(VerbInput& in) {
  std::string redis = "redis://127.0.0.1:6379", prefix = "hw:", user, sort = "host";
  std::string stale_text = "5m", timeout_text = "5s";
  consumer::SecretRef secret;
  bool json = false;
  for (size_t i = 0; i < in.args.size(); ++i) {
    Status err;
    if (in.args[i] == "--json") {
      json = true;
    } else if (TakeFlag(in.args, &i, "--redis", &redis, &err) ||
               TakeFlag(in.args, &i, "--prefix", &prefix, &err) ||
               TakeFlag(in.args, &i, "--user", &user, &err) ||
               TakeFlag(in.args, &i, "--password-file", &secret.file, &err) ||
               TakeFlag(in.args, &i, "--password-env", &secret.env, &err) ||
               TakeFlag(in.args, &i, "--sort", &sort, &err) ||
               TakeFlag(in.args, &i, "--stale", &stale_text, &err) ||
               TakeFlag(in.args, &i, "--timeout", &timeout_text, &err)) {
      if (!err.ok()) return in.UsageError(err);
    } else {
      return in.UsageError(Status::InvalidArgument("unknown argument \"" + in.args[i] + "\""));
    }
  }
  Result<SortKey> key = ParseSortKey(sort);
  if (!key.ok()) return in.UsageError(key.status());
  Result<std::chrono::milliseconds> stale = ParseSeconds("--stale", stale_text);
  if (!stale.ok()) return in.UsageError(stale.status());
  Result<std::chrono::milliseconds> timeout = ParseSeconds("--timeout", timeout_text);
  if (!timeout.ok()) return in.UsageError(timeout.status());
  std::vector<rediscache::RedisAddress> addresses;
  for (std::string_view url : strings::Split(redis, ',')) {
    Result<rediscache::RedisAddress> a = rediscache::ParseRedisUrl(std::string(url));
    if (!a.ok()) return in.UsageError(a.status());
    addresses.push_back(*a);
  }
  rediscache::ConnectOptions options;
  options.timeout = *timeout;
  options.username = user;
  Result<std::string> password = consumer::LoadSecret(secret);
  if (!password.ok()) return in.Failure(daemon::kExitUsage, password.status().message());
  options.password = *password;
  std::unique_ptr<rediscache::RedisBackend> backend = rediscache::MakeBackend(addresses, options);

  const rediscache::KeySchema keys(prefix);
  CachedFleet fleet;
  Result<std::vector<Reply>> first =
      backend->Run({Command{{"ZRANGE", keys.Hosts(), "0", "-1", "WITHSCORES"}},
                    Command{{"HGETALL", keys.AlertsActive()}}});
  if (!first.ok()) return in.Failure(daemon::kExitRuntime, first.status().message());
  if ((*first)[0].error()) return in.Failure(daemon::kExitRuntime, (*first)[0].str);
  const std::vector<Reply>& members = (*first)[0].elements;
  rediscache::Pipeline per_host;
  for (size_t i = 0; i + 1 < members.size(); i += 2) {
    const std::string& e = members[i].str;
    fleet.hosts[e] = strings::ParseNumber<int64_t>(members[i + 1].str).value_or(0);
  }
  for (const auto& [e, seen] : fleet.hosts) {  // the order the replies are read back in
    per_host.push_back(Command{{"HGETALL", keys.Host(e)}});
    per_host.push_back(Command{{"HGETALL", keys.Latest(e)}});
  }
  fleet.active_alerts = Hash((*first)[1]);
  Result<std::vector<Reply>> second = backend->Run(per_host);
  if (!second.ok()) return in.Failure(daemon::kExitRuntime, second.status().message());
  size_t r = 0;
  for (const auto& [e, seen] : fleet.hosts) {
    fleet.host[e] = Hash((*second)[r++]);
    fleet.latest[e] = Hash((*second)[r++]);
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::fputs(RenderHosts(fleet, *key, now_ms, stale->count(), json).c_str(), stdout);
  return daemon::kExitOk;
}

}  // namespace hw::cli
