#include "rediscache/cache_writer.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

namespace hw::rediscache {
namespace {

namespace pb = hostwatch::v1;

std::string AlertJson(const pb::Alert& a) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(a, &out, opts).ok()) out = "{}";
  return out;
}

}  // namespace

// What one batch does to one endpoint.
struct CacheWriter::EndpointWork {
  // Series whose latest value this batch changed: nodes of the own copy, which stay put while
  // the batch is planned.
  std::vector<const std::pair<const std::string, HostCopy::Latest>*> latest;
  std::map<std::string, std::map<std::string, std::string>> history;  // series -> member -> score
  std::vector<std::pair<std::string, std::vector<std::string>>> events;  // id, fields
};

CacheWriter::CacheWriter(WriterOptions options) { SetOptions(std::move(options)); }

bool CacheWriter::HistoryWanted(const std::string& metric) {
  if (options_.history_metrics.empty()) return false;
  auto [it, fresh] = history_match_.try_emplace(metric, false);
  if (fresh) it->second = MatchesAny(metric, options_.history_metrics);
  return it->second;
}

void CacheWriter::SetOptions(WriterOptions options) {
  options_ = std::move(options);
  keys_ = KeySchema(options_.prefix);
  ttl_ = std::to_string(options_.host_ttl_ms);
  history_match_.clear();
}

void CacheWriter::AddHostCommands(const std::string& e, const HostCopy& h, bool rewrite,
                                  Pipeline* out) const {
  out->push_back({{"ZADD", keys_.Hosts(), "GT", std::to_string(h.last_seen), e}});
  const std::string host_key = keys_.Host(e);
  if (!rewrite) out->push_back({{"HSETNX", host_key, "first_seen", std::to_string(h.first_seen)}});
  Command hset{{"HSET", host_key}};
  if (rewrite) {
    hset.argv.push_back("first_seen");
    hset.argv.push_back(std::to_string(h.first_seen));
  }
  hset.argv.insert(hset.argv.end(),
                   {"last_seen", std::to_string(h.last_seen), "tags", JsonObject(h.tags), "sources",
                    JsonArray(std::vector<std::string>(h.sources.begin(), h.sources.end()))});
  out->push_back(std::move(hset));
  out->push_back({{"PEXPIRE", host_key, ttl_}});
}

BatchPlan CacheWriter::Plan(const std::vector<transport::Delivery>& batch) {
  BatchPlan plan;
  ++batch_;
  std::map<std::string, EndpointWork> work;
  for (const transport::Delivery& d : batch) {
    const pb::Envelope& env = d.envelope;
    const std::string* endpoint = nullptr;
    const google::protobuf::Map<std::string, std::string>* host_tags = nullptr;
    int64_t newest = 0;
    if (env.has_samples()) {
      endpoint = &env.samples().endpoint();
      host_tags = &env.samples().host_tags();
    } else if (env.has_events()) {
      endpoint = &env.events().endpoint();
      host_tags = &env.events().host_tags();
    } else if (env.has_alerts()) {
      uint32_t i = 0;
      for (const pb::Alert& a : env.alerts().alerts()) {
        const std::string json = AlertJson(a);
        if (a.state() == pb::Alert::RESOLVED) {
          plan.main.push_back({{"HDEL", keys_.AlertsActive(), a.key()}});
        } else {
          plan.main.push_back({{"HSET", keys_.AlertsActive(), a.key(), json}});
        }
        plan.main.push_back(
            {{"XADD", keys_.AlertsLog(), "MAXLEN", "~", std::to_string(options_.events_maxlen),
              ReplayStableStreamId(env.sent_ms(), env.seq(), i++), "key", a.key(), "state",
              std::string(AlertStateWord(a.state())), "endpoint", a.endpoint(), "json", json}});
        ++plan.alerts;
      }
      continue;
    }
    if (endpoint == nullptr || endpoint->empty()) continue;
    EndpointWork& w = work[*endpoint];
    auto [it, fresh] = hosts_.try_emplace(*endpoint);
    HostCopy& host = it->second;
    if (env.has_samples()) {
      for (const pb::Sample& s : env.samples().samples()) {
        ++plan.samples;
        newest = std::max(newest, s.time_ms());
        SeriesNameInto(s, &series_);
        if (HistoryWanted(s.metric())) {
          w.history[series_][HistoryMember(s.value(), s.time_ms())] = std::to_string(s.time_ms());
        }
        auto found = host.latest.find(std::string_view(series_));
        if (found == host.latest.end()) found = host.latest.try_emplace(series_).first;
        auto& entry = *found;
        HostCopy::Latest& copy = entry.second;
        if (s.time_ms() < copy.time_ms) {
          ++plan.skipped_old;
          continue;
        }
        copy.time_ms = s.time_ms();
        LatestValueInto(s.value(), s.time_ms(), &copy.value);
        if (copy.batch != batch_) {
          copy.batch = batch_;
          w.latest.push_back(&entry);
        }
      }
    } else {
      uint32_t i = 0;
      for (const pb::LogEvent& ev : env.events().events()) {
        ++plan.event_count;
        newest = std::max(newest, ev.time_ms());
        w.events.push_back({ReplayStableStreamId(env.sent_ms(), env.seq(), i++),
                            {"endpoint",
                             *endpoint,
                             "source",
                             env.source(),
                             "path",
                             ev.path(),
                             "rule",
                             ev.rule(),
                             "severity",
                             std::string(SeverityWord(ev.severity())),
                             "time_ms",
                             std::to_string(ev.time_ms()),
                             "line",
                             ev.line(),
                             "truncated",
                             ev.truncated() ? "1" : "0",
                             "suppressed",
                             std::to_string(ev.suppressed()),
                             "offset",
                             std::to_string(ev.offset()),
                             "fields",
                             JsonObject(std::map<std::string, std::string>(ev.fields().begin(),
                                                                           ev.fields().end()))}});
      }
    }
    if (newest == 0) newest = env.sent_ms();
    if (fresh || newest < host.first_seen) host.first_seen = newest;
    host.last_seen = std::max(host.last_seen, newest);
    for (const auto& [k, v] : *host_tags) host.tags[k] = v;
    if (!env.source().empty()) host.sources.insert(env.source());
  }

  const std::string maxlen = std::to_string(options_.events_maxlen);
  for (auto& [e, w] : work) {
    AddHostCommands(e, hosts_[e], false, &plan.main);
    if (!w.latest.empty()) {
      Command hset{{"HSET", keys_.Latest(e)}};
      hset.argv.reserve(2 + 2 * w.latest.size());
      for (const auto* entry : w.latest) {
        hset.argv.push_back(entry->first);
        hset.argv.push_back(entry->second.value);
      }
      plan.main.push_back(std::move(hset));
      plan.main.push_back({{"PEXPIRE", keys_.Latest(e), ttl_}});
    }
    for (auto& [series, members] : w.history) {
      const std::string key = keys_.History(e, series);
      Command zadd{{"ZADD", key}};
      for (auto& [member, score] : members) {
        zadd.argv.push_back(score);
        zadd.argv.push_back(member);
      }
      plan.main.push_back(std::move(zadd));
      plan.main.push_back({{"ZREMRANGEBYRANK", key, "0",
                            std::to_string(-static_cast<int64_t>(options_.history_points) - 1)}});
      plan.main.push_back({{"PEXPIRE", key, ttl_}});
    }
    const std::string stream = keys_.Events(e);
    for (auto& [id, fields] : w.events) {
      BatchPlan::EventWrite ew;
      ew.check = plan.main.size();
      plan.main.push_back({{"XRANGE", stream, id, id}});
      Command fleet{{"XADD", keys_.FleetEvents(), "MAXLEN", "~", maxlen, "*"}};
      fleet.argv.insert(fleet.argv.end(), fields.begin(), fields.end());
      Command own{{"XADD", stream, "MAXLEN", "~", maxlen, id}};
      own.argv.insert(own.argv.end(), std::make_move_iterator(fields.begin()),
                      std::make_move_iterator(fields.end()));
      // Fleet first: a failure between the two repeats the fleet entry rather than losing it.
      ew.writes.push_back(std::move(fleet));
      ew.writes.push_back(std::move(own));
      ew.writes.push_back({{"PEXPIRE", stream, ttl_}});
      plan.events.push_back(std::move(ew));
    }
  }
  return plan;
}

Pipeline CacheWriter::EventWrites(const BatchPlan& plan,
                                  const std::vector<Reply>& main_replies) const {
  Pipeline out;
  for (const BatchPlan::EventWrite& ew : plan.events) {
    if (ew.check >= main_replies.size()) continue;
    const Reply& r = main_replies[ew.check];
    if (r.type == Reply::Type::kArray && !r.elements.empty()) continue;  // already there
    out.insert(out.end(), ew.writes.begin(), ew.writes.end());
  }
  return out;
}

Pipeline CacheWriter::RewriteAll() const {
  Pipeline out;
  for (const auto& [e, h] : hosts_) {
    AddHostCommands(e, h, true, &out);
    if (h.latest.empty()) continue;
    Command hset{{"HSET", keys_.Latest(e)}};
    for (const auto& [series, copy] : h.latest) {
      hset.argv.push_back(series);
      hset.argv.push_back(copy.value);
    }
    out.push_back(std::move(hset));
    out.push_back({{"PEXPIRE", keys_.Latest(e), ttl_}});
  }
  return out;
}

Pipeline CacheWriter::Expire(int64_t now_ms) {
  const int64_t cutoff = now_ms - options_.host_ttl_ms;
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    it = it->second.last_seen < cutoff ? hosts_.erase(it) : std::next(it);
  }
  return {{{"ZREMRANGEBYSCORE", keys_.Hosts(), "-inf", "(" + std::to_string(cutoff)}}};
}

}  // namespace hw::rediscache
