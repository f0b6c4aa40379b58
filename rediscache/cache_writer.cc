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

CacheWriter::CacheWriter(WriterOptions options) { SetOptions(std::move(options)); }

bool CacheWriter::HistoryWanted(std::string_view metric) {
  if (options_.history_metrics.empty()) return false;
  auto it = history_match_.find(metric);
  if (it == history_match_.end()) {
    it = history_match_
             .try_emplace(std::string(metric), MatchesAny(metric, options_.history_metrics))
             .first;
  }
  return it->second;
}

void CacheWriter::SetOptions(WriterOptions options) {
  options_ = std::move(options);
  keys_ = KeySchema(options_.prefix);
  ttl_ = std::to_string(options_.host_ttl_ms);
  maxlen_ = std::to_string(options_.events_maxlen);
  trim_ = std::to_string(-static_cast<int64_t>(options_.history_points) - 1);
  refresh_ms_ = std::min<int64_t>(options_.host_ttl_ms / 10, 60000);
  history_match_.clear();
}

bool CacheWriter::ExpiryDue(Expiry* e) {
  if (now_ms_ != 0 && e->epoch == expiry_epoch_ && now_ms_ - e->sent_ms < refresh_ms_) return false;
  e->sent_ms = now_ms_;
  e->epoch = expiry_epoch_;
  return true;
}

void CacheWriter::AddHostCommands(const std::string& e, HostCopy& h, bool rewrite, Pipeline* out) {
  out->push_back({{"ZADD", keys_.Hosts(), "GT", std::to_string(h.last_seen), e}});
  std::string host_key = keys_.Host(e);
  if (!rewrite && h.first_seen_due) {
    out->push_back({{"HSETNX", host_key, "first_seen", std::to_string(h.first_seen)}});
  }
  h.first_seen_due = false;
  Command hset{{"HSET", host_key}};
  hset.argv.reserve(10);
  if (rewrite) {
    hset.argv.push_back("first_seen");
    hset.argv.push_back(std::to_string(h.first_seen));
  }
  hset.argv.insert(hset.argv.end(), {"last_seen", std::to_string(h.last_seen), "tags", h.tags_json,
                                     "sources", h.sources_json});
  out->push_back(std::move(hset));
  if (rewrite || ExpiryDue(&h.host_expiry))
    out->push_back({{"PEXPIRE", std::move(host_key), ttl_}});
}

CacheWriter::EndpointWork& CacheWriter::WorkFor(HostMap::value_type* host) {
  HostCopy& h = host->second;
  if (h.batch == batch_) return work_[h.work];
  h.batch = batch_;
  h.work = work_used_++;
  if (work_.size() < work_used_) work_.resize(work_used_);
  EndpointWork& w = work_[h.work];
  w.host = host;
  return w;
}

void CacheWriter::TouchHost(HostMap::value_type* node, std::string_view source, int64_t newest,
                            const naming::TagView* tags, size_t tag_count) {
  HostCopy& host = node->second;
  if (host.first_seen == 0 || newest < host.first_seen) host.first_seen = newest;
  host.last_seen = std::max(host.last_seen, newest);
  bool tags_changed = false;
  for (size_t i = 0; i < tag_count; ++i) {
    auto it = host.tags.find(tags[i].key);
    if (it == host.tags.end()) {
      host.tags.emplace(std::string(tags[i].key), std::string(tags[i].value));
      tags_changed = true;
    } else if (it->second != tags[i].value) {
      it->second.assign(tags[i].value);
      tags_changed = true;
    }
  }
  if (tags_changed) {
    host.tags_json = "{";
    for (const auto& [k, v] : host.tags) {
      if (host.tags_json.size() > 1) host.tags_json += ',';
      host.tags_json += JsonString(k);
      host.tags_json += ':';
      host.tags_json += JsonString(v);
    }
    host.tags_json += '}';
  }
  if (!source.empty() && host.sources.find(source) == host.sources.end()) {
    host.sources.emplace(source);
    host.sources_json =
        JsonArray(std::vector<std::string>(host.sources.begin(), host.sources.end()));
  }
}

bool CacheWriter::PlanSamples(const naming::EnvelopeWire& header, BatchPlan* plan) {
  const std::string_view endpoint = wire_.endpoint();
  if (endpoint.empty()) return true;  // nothing to file it under
  auto found_host = hosts_.find(endpoint);
  if (found_host == hosts_.end()) found_host = hosts_.try_emplace(std::string(endpoint)).first;
  HostMap::value_type* node = &*found_host;
  HostCopy& host = node->second;
  EndpointWork& w = WorkFor(node);
  uint64_t samples = 0, skipped_old = 0;
  int64_t newest = 0;
  size_t k = 0;  // the sample's index in the envelope
  naming::SampleView& s = sample_;
  while (wire_.Next(&s)) {
    ++samples;
    newest = std::max(newest, s.time_ms);
    // The series name: the metric alone, or "metric;k=v;..." with the tags sorted by key.
    std::string_view series = s.metric;
    if (s.tag_count > 0) {
      naming::SortTags(s.tags, &s.tag_count);
      series_.assign(s.metric);
      for (size_t i = 0; i < s.tag_count; ++i) {
        series_ += ';';
        series_ += s.tags[i].key;
        series_ += '=';
        series_ += s.tags[i].value;
      }
      series = series_;
    }
    std::pair<const std::string, HostCopy::Latest>* node_at = nullptr;
    if (k < host.order.size() && host.order[k]->first == series) {
      node_at = host.order[k];
    } else {
      auto found = host.latest.find(series);
      if (found == host.latest.end()) found = host.latest.try_emplace(std::string(series)).first;
      node_at = &*found;
      if (k < host.order.size()) {
        host.order[k] = node_at;
      } else {
        host.order.push_back(node_at);
      }
    }
    ++k;
    auto& entry = *node_at;
    if (HistoryWanted(s.metric)) w.history.push_back({&entry.first, s.time_ms, s.value});
    HostCopy::Latest& copy = entry.second;
    if (s.time_ms < copy.time_ms) {
      ++skipped_old;
      continue;
    }
    copy.time_ms = s.time_ms;
    copy.value = s.value;
    if (copy.batch != batch_) {
      copy.batch = batch_;
      w.latest.push_back(&entry);
    }
  }
  if (!wire_.ok()) return false;
  plan->samples += samples;
  plan->skipped_old += skipped_old;
  if (newest == 0) newest = header.sent_ms;
  naming::TagView tags[naming::kMaxWireTags];
  size_t tag_count = wire_.host_tag_count();
  std::copy(wire_.host_tags(), wire_.host_tags() + tag_count, tags);
  naming::SortTags(tags, &tag_count);
  TouchHost(node, header.source, newest, tags, tag_count);
  return true;
}

void CacheWriter::PlanOther(const pb::Envelope& env, BatchPlan* plan) {
  if (env.has_alerts()) {
    uint32_t i = 0;
    for (const pb::Alert& a : env.alerts().alerts()) {
      const std::string json = AlertJson(a);
      if (a.state() == pb::Alert::RESOLVED) {
        plan->main.push_back({{"HDEL", keys_.AlertsActive(), a.key()}});
      } else {
        plan->main.push_back({{"HSET", keys_.AlertsActive(), a.key(), json}});
      }
      plan->main.push_back(
          {{"XADD", keys_.AlertsLog(), "MAXLEN", "~", maxlen_,
            ReplayStableStreamId(env.sent_ms(), env.seq(), i++), "key", a.key(), "state",
            std::string(AlertStateWord(a.state())), "endpoint", a.endpoint(), "json", json}});
      ++plan->alerts;
    }
    return;
  }
  if (!env.has_events() || env.events().endpoint().empty()) return;
  const std::string& endpoint = env.events().endpoint();
  auto found_host = hosts_.find(std::string_view(endpoint));
  if (found_host == hosts_.end()) found_host = hosts_.try_emplace(endpoint).first;
  EndpointWork& w = WorkFor(&*found_host);
  int64_t newest = 0;
  uint32_t i = 0;
  for (const pb::LogEvent& ev : env.events().events()) {
    ++plan->event_count;
    newest = std::max(newest, ev.time_ms());
    w.events.push_back(
        {ReplayStableStreamId(env.sent_ms(), env.seq(), i++),
         {"endpoint",
          endpoint,
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
          JsonObject(std::map<std::string, std::string>(ev.fields().begin(), ev.fields().end()))}});
  }
  if (newest == 0) newest = env.sent_ms();
  std::vector<naming::TagView> tags;
  for (const auto& [k, v] : env.events().host_tags()) tags.push_back({k, v});
  TouchHost(&*found_host, env.source(), newest, tags.data(), tags.size());
}

BatchPlan CacheWriter::Plan(const std::vector<transport::Delivery>& batch, int64_t now_ms) {
  BatchPlan plan;
  ++batch_;
  now_ms_ = now_ms;
  work_used_ = 0;
  for (const transport::Delivery& d : batch) {
    std::string_view bytes = d.body;
    if (bytes.empty()) {  // a delivery parsed by the link
      canonical_ = d.envelope.SerializeAsString();
      bytes = canonical_;
    }
    naming::EnvelopeWire header;
    if (wire_.Open(bytes, &header) && PlanSamples(header, &plan)) continue;
    // Not the shape the wire reader takes (or events, alerts): the full parse decides. A samples
    // body is then read from its canonical serialization, which the wire reader does take.
    pb::Envelope parsed;
    const pb::Envelope* env = &d.envelope;
    if (!d.body.empty()) {
      if (!parsed.ParseFromArray(d.body.data(), static_cast<int>(d.body.size()))) {
        ++plan.malformed;
        continue;
      }
      env = &parsed;
    }
    if (env->has_samples()) {
      canonical_ = env->SerializeAsString();
      if (!wire_.Open(canonical_, &header) || !PlanSamples(header, &plan)) ++plan.malformed;
      continue;
    }
    PlanOther(*env, &plan);
  }
  FinishPlan(&plan);
  return plan;
}

void CacheWriter::FinishPlan(BatchPlan* plan) {
  for (size_t i = 0; i < work_used_; ++i) {
    EndpointWork& w = work_[i];
    const std::string& e = w.host->first;
    HostCopy& host = w.host->second;
    AddHostCommands(e, host, false, &plan->main);
    if (!w.latest.empty()) {
      const std::string key = keys_.Latest(e);
      Command hset{{"HSET", key}};
      hset.argv.reserve(2 + 2 * w.latest.size());
      for (const auto* entry : w.latest) {
        hset.argv.push_back(entry->first);
        LatestValueInto(entry->second.value, entry->second.time_ms, &hset.argv.emplace_back());
      }
      plan->main.push_back(std::move(hset));
      if (ExpiryDue(&host.latest_expiry)) plan->main.push_back({{"PEXPIRE", key, ttl_}});
      w.latest.clear();
    }
    if (!w.history.empty()) {
      // One ZADD per series, its members in time order, each (time, value) once.
      auto& h = w.history;
      std::sort(h.begin(), h.end(), [](const EndpointWork::Point& a, const EndpointWork::Point& b) {
        if (a.series != b.series) return std::less<const std::string*>()(a.series, b.series);
        if (a.time_ms != b.time_ms) return a.time_ms < b.time_ms;
        return a.value < b.value;
      });
      for (size_t at = 0; at < h.size();) {
        const std::string* series = h[at].series;
        HostCopy::Latest& copy = host.latest.find(*series)->second;
        const std::string key = keys_.History(e, *series);
        Command zadd{{"ZADD", key}};
        for (; at < h.size() && h[at].series == series; ++at) {
          const size_t n = zadd.argv.size();
          if (n > 2 && h[at].time_ms == h[at - 1].time_ms && h[at].value == h[at - 1].value)
            continue;
          zadd.argv.push_back(std::to_string(h[at].time_ms));
          HistoryMemberInto(h[at].value, h[at].time_ms, &zadd.argv.emplace_back());
        }
        plan->main.push_back(std::move(zadd));
        plan->main.push_back({{"ZREMRANGEBYRANK", key, "0", trim_}});
        if (ExpiryDue(&copy.history_expiry)) plan->main.push_back({{"PEXPIRE", key, ttl_}});
      }
      h.clear();
    }
    const std::string stream = keys_.Events(e);
    for (auto& [id, fields] : w.events) {
      BatchPlan::EventWrite ew;
      ew.check = plan->main.size();
      plan->main.push_back({{"XRANGE", stream, id, id}});
      Command fleet{{"XADD", keys_.FleetEvents(), "MAXLEN", "~", maxlen_, "*"}};
      fleet.argv.insert(fleet.argv.end(), fields.begin(), fields.end());
      Command own{{"XADD", stream, "MAXLEN", "~", maxlen_, id}};
      own.argv.insert(own.argv.end(), std::make_move_iterator(fields.begin()),
                      std::make_move_iterator(fields.end()));
      // Fleet first: a failure between the two repeats the fleet entry rather than losing it.
      ew.writes.push_back(std::move(fleet));
      ew.writes.push_back(std::move(own));
      ew.writes.push_back({{"PEXPIRE", stream, ttl_}});
      plan->events.push_back(std::move(ew));
    }
    w.events.clear();
  }
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

Pipeline CacheWriter::RewriteAll() {
  ++expiry_epoch_;
  Pipeline out;
  for (auto& [e, h] : hosts_) {
    AddHostCommands(e, h, true, &out);
    if (h.latest.empty()) continue;
    Command hset{{"HSET", keys_.Latest(e)}};
    for (const auto& [series, copy] : h.latest) {
      hset.argv.push_back(series);
      LatestValueInto(copy.value, copy.time_ms, &hset.argv.emplace_back());
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
