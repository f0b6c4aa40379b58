#include "alerter/state.h"

#include <algorithm>
#include <span>

#include "alerter/notification_text.h"
#include "common/strings/fnv1a.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
namespace st = hostwatch::alerter::v1;

std::string Summary(const Rule& rule, std::string_view series, double value) {
  if (!rule.summary.empty()) return rule.summary;
  if (rule.is_nodata())
    return "no data from " + std::string(series) + " for " + FormatValue(value) + "s (" +
           rule.expr.text + ")";
  if (rule.is_event())
    return FormatValue(value) + " " + rule.event_rule + " events (" + rule.expr.text + ")";
  return std::string(series) + " = " + FormatValue(value) + " (" + rule.expr.text + ")";
}

// Over tags sorted by key (a series' std::map, or a sample's tags after naming::SortTags), so
// both ways in find the same series; collisions are resolved by comparing the fields, so the hash
// only needs to spread.
template <class Tags>
uint64_t SeriesHash(std::string_view endpoint, std::string_view metric, const Tags& tags) {
  uint64_t h = strings::Fnv1a64(metric, strings::Fnv1a64(endpoint) ^ 0x9e3779b97f4a7c15ull);
  uint64_t t = 0;
  for (const auto& [k, v] : tags) t += strings::Fnv1a64(v, strings::Fnv1a64(k) * 31);
  return h ^ (t * 0xff51afd7ed558ccdull);
}

// Both sorted by key with each key once: one pass.
bool SameTags(const std::map<std::string, std::string>& a, std::span<const naming::TagView> b) {
  if (a.size() != b.size()) return false;
  size_t i = 0;
  for (const auto& [k, v] : a) {
    if (b[i].key != k || b[i].value != v) return false;
    ++i;
  }
  return true;
}

}  // namespace

AlertEngine::AlertEngine(const RuleSet* rules, Options options)
    : rules_(rules), options_(options) {}

std::string AlertEngine::SeriesId(std::string_view endpoint, std::string_view series_name) {
  std::string id;
  id.reserve(endpoint.size() + series_name.size() + 1);
  id.append(endpoint).append("|").append(series_name);
  return id;
}

void AlertEngine::Rematch(Series* s) const {
  s->rules.clear();
  s->capacity = 1;
  s->has_nodata = false;
  // Rules on its metric that name another endpoint are never looked at (RuleSet::CandidatesFor).
  std::vector<uint32_t> candidates;
  rules_->CandidatesFor(s->metric, s->endpoint, &candidates);
  for (uint32_t i : candidates) {
    const Rule& r = rules_->rules()[i];
    if (!r.MatchesSeries(s->endpoint, s->tags)) continue;
    s->rules.push_back(i);
    s->capacity = std::max(s->capacity, r.window_points());
    if (r.is_nodata()) s->has_nodata = true;
  }
  s->alert.assign(s->rules.size(), nullptr);
  for (size_t k = 0; k < s->rules.size(); ++k) {
    auto it = alerts_.find(AlertKey(rules_->rules()[s->rules[k]].name, s->endpoint, s->name));
    if (it != alerts_.end()) s->alert[k] = const_cast<pb::Alert*>(&it->second);
  }
  if (s->window.size() > s->capacity) {
    s->window.erase(s->window.begin(), s->window.end() - s->capacity);
  }
}

AlertEngine::Series& AlertEngine::AddSeries(Series s) {
  const auto index = static_cast<uint32_t>(series_store_.size());
  s.index = index;
  series_by_hash_.Insert(SeriesHash(s.endpoint, s.metric, s.tags), index);
  series_by_id_.emplace(SeriesId(s.endpoint, s.name), index);
  if (s.has_nodata) nodata_series_.push_back(index);
  series_store_.push_back(std::move(s));
  return series_store_.back();
}

AlertEngine::Series& AlertEngine::SeriesFor(std::string_view endpoint, std::string_view metric,
                                            std::span<const naming::TagView> tags) {
  const uint64_t h = SeriesHash(endpoint, metric, tags);
  const uint32_t found = series_by_hash_.Find(h, [&](uint32_t index) {
    const Series& s = series_store_[index];
    return s.endpoint == endpoint && s.metric == metric && SameTags(s.tags, tags);
  });
  if (found != SeriesIndex::kNone) return series_store_[found];
  Series s;
  s.endpoint = endpoint;
  s.metric = metric;
  for (const naming::TagView& t : tags) s.tags.emplace(t.key, t.value);
  // From the map, as Load does: the name (and so every alert key) is the same however the
  // sample arrived, and the same as the state saved before.
  s.name = SeriesName(s.metric, s.tags);
  Rematch(&s);
  return AddSeries(std::move(s));
}

void AlertEngine::OnSample(std::string_view endpoint, std::string_view metric,
                           naming::TagView* tags, size_t tag_count, double value, int64_t time_ms,
                           std::vector<AlertChange>* out) {
  ++stats_.samples;
  // The index: a sample whose metric no rule names costs one hash lookup.
  if (rules_->ForMetric(metric).empty()) return;
  naming::SortTags(tags, &tag_count);
  Series& s = SeriesFor(endpoint, metric, std::span<const naming::TagView>(tags, tag_count));
  if (s.rules.empty()) return;
  if (time_ms <= s.last_ms) {
    ++stats_.replayed;
    return;
  }
  s.last_ms = time_ms;
  MarkSeries(s);
  s.window.push_back({time_ms, value});
  if (s.window.size() > s.capacity) s.window.erase(s.window.begin());
  for (size_t k = 0; k < s.rules.size(); ++k) {
    const Rule& r = rules_->rules()[s.rules[k]];
    ++stats_.evaluated;
    if (r.is_nodata()) {
      // A point heals a silent series at once.
      TransitionSeries(&s, k, true, false, true, 0, time_ms, out);
      continue;
    }
    const Judgement j = JudgeSeries(r.expr, s.window);
    bool clear = j.decided && !j.breach;
    if (r.recover && s.alert[k] != nullptr) {
      const Judgement rj = JudgeSeries(*r.recover, s.window);
      clear = rj.decided && rj.breach;
    }
    TransitionSeries(&s, k, j.decided, j.breach, clear, j.decided ? j.value : value, time_ms, out);
  }
}

void AlertEngine::OnHost(std::string_view endpoint, int64_t newest_ms, naming::TagView* host_tags,
                         size_t host_tag_count) {
  if (newest_ms <= 0 && host_tag_count == 0) return;
  auto it = hosts_.find(endpoint);
  if (it == hosts_.end()) it = hosts_.emplace(std::string(endpoint), Host{}).first;
  Host& h = it->second;
  h.last_seen_ms = std::max(h.last_seen_ms, newest_ms);
  naming::SortTags(host_tags, &host_tag_count);
  const std::span<const naming::TagView> tags(host_tags, host_tag_count);
  // Host tags rarely change: compare before rebuilding the map.
  if (!SameTags(h.host_tags, tags)) {
    h.host_tags.clear();
    for (const naming::TagView& t : tags) h.host_tags.emplace(t.key, t.value);
  }
  MarkHost(it->first, h);
}

void AlertEngine::OnSamples(const pb::SampleBatch& batch, std::vector<AlertChange>* out,
                            size_t skip) {
  const std::string& endpoint = batch.endpoint();
  int64_t newest = 0;
  size_t i = 0;
  for (const pb::Sample& sample : batch.samples()) {
    newest = std::max(newest, sample.time_ms());
    if (i++ < skip) continue;
    pb_tags_.clear();
    for (const auto& [k, v] : sample.tags()) pb_tags_.push_back({k, v});
    OnSample(endpoint, sample.metric(), pb_tags_.data(), pb_tags_.size(), sample.value(),
             sample.time_ms(), out);
  }
  pb_tags_.clear();
  for (const auto& [k, v] : batch.host_tags()) pb_tags_.push_back({k, v});
  OnHost(endpoint, newest, pb_tags_.data(), pb_tags_.size());
}

void AlertEngine::OnEvents(const pb::EventBatch& batch, std::vector<AlertChange>* out) {
  const std::string& endpoint = batch.endpoint();
  for (const pb::LogEvent& ev : batch.events()) {
    ++stats_.events;
    if (rules_->ForEventRule(ev.rule()).empty()) continue;
    EventWindow& w = event_windows_[SeriesId(endpoint, ev.rule())];
    if (w.endpoint.empty()) {
      w.endpoint = endpoint;
      w.event_rule = ev.rule();
    }
    if (ev.time_ms() < w.last_ms) {
      ++stats_.replayed;
      continue;
    }
    w.last_ms = ev.time_ms();
    MarkEvents(w);
    w.hits.emplace_back(ev.time_ms(), 1 + static_cast<uint64_t>(ev.suppressed()));
    w.lines.push_back(ev.line());
    while (w.lines.size() > options_.max_log_lines) w.lines.pop_front();
    JudgeEventWindow(w, ev.time_ms(), out);
  }
  Host& h = hosts_[endpoint];
  for (const pb::LogEvent& ev : batch.events())
    h.last_seen_ms = std::max(h.last_seen_ms, ev.time_ms());
  MarkHost(endpoint, h);
}

void AlertEngine::JudgeEventWindow(EventWindow& w, int64_t end_ms, std::vector<AlertChange>* out) {
  int64_t longest = 0;
  for (uint32_t i : rules_->ForEventRule(w.event_rule)) {
    longest = std::max<int64_t>(longest, rules_->rules()[i].expr.window.count());
  }
  while (!w.hits.empty() && w.hits.front().first <= end_ms - longest) {
    w.hits.pop_front();
    MarkEvents(w);
  }
  for (uint32_t i : rules_->ForEventRule(w.event_rule)) {
    const Rule& r = rules_->rules()[i];
    if (!r.MatchesEndpoint(w.endpoint)) continue;
    uint64_t count = 0;
    for (const auto& [t, weight] : w.hits) {
      if (t > end_ms - r.expr.window.count()) count += weight;
    }
    const bool breach = Compare(r.expr.op, static_cast<double>(count), r.expr.threshold);
    Transition(i, w.endpoint, w.event_rule, true, breach, !breach, static_cast<double>(count),
               end_ms, out);
  }
}

void AlertEngine::Transition(uint32_t rule_index, const std::string& endpoint,
                             const std::string& series, bool decided, bool breach, bool clear,
                             double value, int64_t t_ms, std::vector<AlertChange>* out,
                             pb::Alert** slot) {
  // The common case first: nothing open and nothing to open.
  if (slot != nullptr && *slot == nullptr && !(decided && breach)) return;
  const Rule& rule = rules_->rules()[rule_index];
  pb::Alert* a = slot != nullptr ? *slot : nullptr;
  if (a == nullptr) {
    const std::string key = AlertKey(rule.name, endpoint, series);
    auto it = alerts_.find(key);
    if (it != alerts_.end()) {
      a = &it->second;
    } else {
      if (!decided || !breach) return;
      pb::Alert fresh;
      fresh.set_rule(rule.name);
      fresh.set_key(key);
      fresh.set_severity(rule.severity);
      fresh.set_endpoint(endpoint);
      fresh.set_series(series);
      fresh.set_value(value);
      fresh.set_summary(Summary(rule, series, value));
      fresh.set_since_ms(t_ms);
      fresh.set_time_ms(t_ms);
      fresh.set_state(rule.for_duration.count() > 0 ? pb::Alert::PENDING : pb::Alert::FIRING);
      out->push_back(AlertChange{fresh, rule_index, fresh.state() == pb::Alert::FIRING});
      dirty_alerts_.insert(key);
      a = &alerts_.emplace(key, std::move(fresh)).first->second;
      if (slot != nullptr) *slot = a;
      return;
    }
  }
  if (slot != nullptr) {
    *slot = a;  // its series is saved with its open alerts: nothing to mark per point
  } else {
    dirty_alerts_.insert(a->key());
  }
  // Per point only the value and time move; the summary is written on state changes.
  a->set_value(value);
  a->set_time_ms(t_ms);
  auto close = [&](bool notify) {
    a->set_state(pb::Alert::RESOLVED);
    a->set_summary(Summary(rule, series, value));
    out->push_back(AlertChange{*a, rule_index, notify});
    if (slot != nullptr) *slot = nullptr;
    const std::string key = a->key();  // not a reference into the node being erased
    alerts_.erase(key);
    dirty_alerts_.insert(key);
  };
  if (a->state() == pb::Alert::PENDING) {
    if (decided && !breach) {
      close(false);
    } else if (decided && breach && t_ms - a->since_ms() >= rule.for_duration.count()) {
      a->set_state(pb::Alert::FIRING);
      a->set_summary(Summary(rule, series, value));
      out->push_back(AlertChange{*a, rule_index, true});
      dirty_alerts_.insert(a->key());
    }
    return;
  }
  if (clear) close(true);
}

void AlertEngine::Tick(int64_t now_ms, bool lagging, std::vector<AlertChange>* out) {
  if (lagging) return;
  for (uint32_t index : nodata_series_) {
    Series& s = series_store_[index];
    for (size_t k = 0; k < s.rules.size(); ++k) {
      const Rule& r = rules_->rules()[s.rules[k]];
      if (!r.is_nodata()) continue;
      const int64_t window = r.expr.window.count();
      if (now_ms < started_ms_ + window) continue;
      const int64_t silent_ms = now_ms - s.last_ms;
      if (silent_ms <= window) continue;
      TransitionSeries(&s, k, true, true, false, static_cast<double>(silent_ms / 1000), now_ms,
                       out);
    }
  }
  for (auto& [id, w] : event_windows_) {
    if (w.hits.empty()) continue;
    JudgeEventWindow(w, std::max(now_ms, w.last_ms), out);
  }
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (it->second.last_seen_ms > 0 && now_ms - it->second.last_seen_ms > options_.host_forget_ms) {
      it = hosts_.erase(it);
      needs_whole_ = true;  // a delta has no way to say "forget this host"
    } else {
      ++it;
    }
  }
}

bool AlertEngine::NodataStorm() const {
  if (hosts_.empty()) return false;
  std::set<std::string_view> silent;
  for (const auto& [key, a] : alerts_) {
    if (a.state() != pb::Alert::FIRING) continue;
    const Rule* r = rules_->Find(a.rule());
    if (r != nullptr && r->is_nodata()) silent.insert(a.endpoint());
  }
  return silent.size() >= 2 &&
         silent.size() * 100 > static_cast<size_t>(options_.nodata_storm_percent) * hosts_.size();
}

std::vector<std::string> AlertEngine::FiringKeys(uint32_t rule) const {
  std::vector<std::string> keys;
  const std::string& name = rules_->rules()[rule].name;
  // Keys start with "<rule>|": a range of the ordered map.
  const std::string prefix = name + "|";
  for (auto it = alerts_.lower_bound(prefix); it != alerts_.end() && it->first.starts_with(prefix);
       ++it) {
    if (it->second.state() == pb::Alert::FIRING) keys.push_back(it->first);
  }
  return keys;
}

const pb::Alert* AlertEngine::FindAlert(const std::string& key) const {
  auto it = alerts_.find(key);
  return it == alerts_.end() ? nullptr : &it->second;
}

AlertView AlertEngine::View(const pb::Alert& alert) const {
  AlertView v;
  v.alert = alert;
  const Rule* r = rules_->Find(alert.rule());
  if (r != nullptr) v.expr = r->expr.text;
  auto hit = hosts_.find(alert.endpoint());
  if (hit != hosts_.end()) v.host_tags = hit->second.host_tags;
  if (r != nullptr && r->is_event()) {
    auto wit = event_windows_.find(SeriesId(alert.endpoint(), r->event_rule));
    if (wit != event_windows_.end()) {
      v.log_lines.assign(wit->second.lines.begin(), wit->second.lines.end());
    }
    return v;
  }
  auto sit = series_by_id_.find(SeriesId(alert.endpoint(), alert.series()));
  if (sit != series_by_id_.end()) {
    const Series& s = series_store_[sit->second];
    v.metric = s.metric;
    v.tags = s.tags;
    for (const Point& p : s.window) v.recent.emplace_back(p.time_ms, p.value);
  } else if (r != nullptr) {
    v.metric = r->metric;
  }
  if (alert.state() == pb::Alert::RESOLVED) v.ends_ms = alert.time_ms();
  return v;
}

std::map<std::string, std::string> AlertEngine::Labels(const pb::Alert& alert) const {
  std::map<std::string, std::string> labels;
  auto sit = series_by_id_.find(SeriesId(alert.endpoint(), alert.series()));
  if (sit != series_by_id_.end()) labels = series_store_[sit->second].tags;
  labels["rule"] = alert.rule();
  labels["endpoint"] = alert.endpoint();
  labels["series"] = alert.series();
  labels["severity"] = std::string(SeverityWord(alert.severity()));
  return labels;
}

EngineStats AlertEngine::stats() const {
  stats_.series = series_store_.size();
  stats_.firing = stats_.pending = 0;
  for (const auto& [k, a] : alerts_) {
    if (a.state() == pb::Alert::FIRING) ++stats_.firing;
    if (a.state() == pb::Alert::PENDING) ++stats_.pending;
  }
  return stats_;
}

namespace {

template <class Series>
void WriteSeries(const Series& s, st::SeriesState* ss) {
  ss->set_endpoint(s.endpoint);
  ss->set_metric(s.metric);
  for (const auto& [k, v] : s.tags) (*ss->mutable_tags())[k] = v;
  for (const Point& p : s.window) {
    ss->add_times(p.time_ms);
    ss->add_values(p.value);
  }
  ss->set_last_ms(s.last_ms);
}

template <class EventWindow>
void WriteEvents(const EventWindow& w, st::EventWindowState* es) {
  es->set_endpoint(w.endpoint);
  es->set_event_rule(w.event_rule);
  for (const auto& [t, weight] : w.hits) {
    es->add_times(t);
    es->add_weights(weight);
  }
  for (const std::string& l : w.lines) es->add_lines(l);
  es->set_last_ms(w.last_ms);
}

template <class Host>
void WriteHost(const std::string& endpoint, const Host& h, st::HostState* hs) {
  hs->set_endpoint(endpoint);
  for (const auto& [k, v] : h.host_tags) (*hs->mutable_host_tags())[k] = v;
  hs->set_last_seen_ms(h.last_seen_ms);
}

}  // namespace

void AlertEngine::Save(st::AlerterState* out) const {
  for (const Series& s : series_store_) {
    if (!s.rules.empty()) WriteSeries(s, out->add_series());
  }
  for (const auto& [id, w] : event_windows_) WriteEvents(w, out->add_events());
  for (const auto& [endpoint, h] : hosts_) WriteHost(endpoint, h, out->add_hosts());
  for (const auto& [key, a] : alerts_) *out->add_alerts() = a;
}

void AlertEngine::SaveChanges(st::AlerterState* out) {
  for (uint32_t index : dirty_series_) {
    Series& s = series_store_[index];
    s.dirty = false;
    if (s.rules.empty()) continue;
    WriteSeries(s, out->add_series());
    // Their value and time move with every point without marking the key.
    for (const pb::Alert* a : s.alert) {
      if (a != nullptr && dirty_alerts_.count(a->key()) == 0) *out->add_alerts() = *a;
    }
  }
  for (const std::string& id : dirty_events_) {
    auto it = event_windows_.find(id);
    if (it == event_windows_.end()) continue;
    it->second.dirty = false;
    WriteEvents(it->second, out->add_events());
  }
  for (const std::string& endpoint : dirty_hosts_) {
    auto it = hosts_.find(endpoint);
    if (it == hosts_.end()) continue;
    it->second.dirty = false;
    WriteHost(endpoint, it->second, out->add_hosts());
  }
  for (const std::string& key : dirty_alerts_) {
    auto it = alerts_.find(key);
    if (it != alerts_.end()) {
      *out->add_alerts() = it->second;
    } else {
      out->add_removed_alerts(key);
    }
  }
  dirty_series_.clear();
  dirty_events_.clear();
  dirty_hosts_.clear();
  dirty_alerts_.clear();
}

void AlertEngine::ClearChanges() {
  for (uint32_t index : dirty_series_) series_store_[index].dirty = false;
  for (auto& [id, w] : event_windows_) w.dirty = false;
  for (auto& [endpoint, h] : hosts_) h.dirty = false;
  dirty_series_.clear();
  dirty_events_.clear();
  dirty_hosts_.clear();
  dirty_alerts_.clear();
  needs_whole_ = false;
}

void AlertEngine::Load(const st::AlerterState& in) {
  series_store_.clear();
  series_by_hash_.Clear();
  series_by_id_.clear();
  nodata_series_.clear();
  event_windows_.clear();
  hosts_.clear();
  alerts_.clear();
  dirty_series_.clear();
  dirty_events_.clear();
  dirty_hosts_.clear();
  dirty_alerts_.clear();
  needs_whole_ = false;
  // Alerts first: Rematch marks the rules of each series that have one.
  for (const pb::Alert& a : in.alerts()) {
    if (rules_->Find(a.rule()) == nullptr) continue;
    alerts_.emplace(a.key(), a);
  }
  for (const st::SeriesState& ss : in.series()) {
    Series s;
    s.endpoint = ss.endpoint();
    s.metric = ss.metric();
    for (const auto& [k, v] : ss.tags()) s.tags[k] = v;
    s.name = SeriesName(s.metric, s.tags);
    for (int i = 0; i < ss.times_size() && i < ss.values_size(); ++i) {
      s.window.push_back({ss.times(i), ss.values(i)});
    }
    s.last_ms = ss.last_ms();
    Rematch(&s);
    AddSeries(std::move(s));
  }
  for (const st::EventWindowState& es : in.events()) {
    EventWindow w;
    w.endpoint = es.endpoint();
    w.event_rule = es.event_rule();
    for (int i = 0; i < es.times_size() && i < es.weights_size(); ++i) {
      w.hits.emplace_back(es.times(i), es.weights(i));
    }
    for (const std::string& l : es.lines()) w.lines.push_back(l);
    w.last_ms = es.last_ms();
    event_windows_.emplace(SeriesId(w.endpoint, w.event_rule), std::move(w));
  }
  for (const st::HostState& hs : in.hosts()) {
    Host h;
    for (const auto& [k, v] : hs.host_tags()) h.host_tags[k] = v;
    h.last_seen_ms = hs.last_seen_ms();
    hosts_.emplace(hs.endpoint(), std::move(h));
  }
}

}  // namespace hw::alerter
