#include "alerter/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "alerter/notification_text.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
namespace st = hostwatch::alerter::v1;

constexpr int64_t kHourMs = 3600 * 1000;

}  // namespace

std::string DescribeNotification(const Notification& n) {
  std::string out = Subject(n) + "\n  id: " + n.id + "\n  receiver: " + n.receiver + "\n";
  for (const std::string& subject : n.digest_subjects) out += "  held: " + subject + "\n";
  for (const AlertView& v : n.alerts) {
    out += "  " + std::string(v.alert.state() == pb::Alert::RESOLVED ? "resolved " : "") +
           v.alert.endpoint() + ": " + v.alert.summary() +
           " since_ms=" + std::to_string(v.alert.since_ms());
    if (!v.recent.empty()) {
      out += " recent=[";
      for (size_t i = 0; i < v.recent.size(); ++i) {
        out += (i ? " " : "") + FormatValue(v.recent[i].second);
      }
      out += "]";
    }
    out += "\n";
  }
  return out;
}

Pipeline::Pipeline(const PipelineConfig& config, const RuleSet* rules, const AlertEngine* engine,
                   Delivery* delivery)
    : config_(config), rules_(rules), engine_(engine), delivery_(delivery) {}

Pipeline::Group& Pipeline::GroupFor(const std::string& receiver, uint32_t rule) {
  // Every alert change comes here: find the rule's few groups without building the map's key.
  if (by_rule_.size() <= rule) by_rule_.resize(rules_->rules().size());
  for (Group* g : by_rule_[rule]) {
    if (g->receiver == receiver) {
      Mark(*g);
      return *g;
    }
  }
  const std::string gk = receiver + "/" + rules_->rules()[rule].name;
  auto [it, inserted] = groups_.try_emplace(gk);
  if (inserted) {
    it->second.receiver = receiver;
    it->second.rule = rule;
  }
  by_rule_[rule].push_back(&it->second);
  // Every caller changes it (or loads it).
  Mark(it->second);
  return it->second;
}

void Pipeline::OnChange(const AlertChange& change, int64_t now_ms) {
  if (!change.notify) return;
  const Rule& rule = rules_->rules()[change.rule];
  for (const std::string& receiver : rule.receivers) {
    Group& g = GroupFor(receiver, change.rule);
    if (change.alert.state() == pb::Alert::FIRING) {
      if (g.notified.count(change.alert.key()) == 0 && g.first_change_ms == 0)
        g.first_change_ms = now_ms;
      g.resolved.erase(change.alert.key());
    } else if (change.alert.state() == pb::Alert::RESOLVED) {
      // Fired and healed before anyone was told: nothing to say.
      if (g.notified.erase(change.alert.key()) == 0) continue;
      g.resolved[change.alert.key()] = change.alert;
      if (g.first_change_ms == 0) g.first_change_ms = now_ms;
    }
  }
}

void Pipeline::BuildInhibitions() {
  inhibiting_.assign(config_.inhibit.size(), {});
  for (size_t i = 0; i < config_.inhibit.size(); ++i) {
    const InhibitRule& ir = config_.inhibit[i];
    const int64_t r = rules_->IndexOf(ir.source_rule);
    if (r >= 0) {
      for (const std::string& key : engine_->FiringKeys(static_cast<uint32_t>(r))) {
        const pb::Alert* a = engine_->FindAlert(key);
        if (a == nullptr) continue;
        std::map<std::string, std::string> labels = engine_->Labels(*a);
        std::vector<std::string> tuple;
        for (const std::string& l : ir.equal) tuple.push_back(labels[l]);
        inhibiting_[i].insert(std::move(tuple));
      }
    }
  }
}

bool Pipeline::Muted(const pb::Alert& a, int64_t now_ms, const std::vector<Silence>& silences) {
  std::map<std::string, std::string> labels = engine_->Labels(a);
  for (size_t i = 0; i < config_.inhibit.size(); ++i) {
    const InhibitRule& ir = config_.inhibit[i];
    if (a.rule() == ir.source_rule || inhibiting_[i].empty()) continue;
    if (!ir.target_rules.empty() && std::find(ir.target_rules.begin(), ir.target_rules.end(),
                                              a.rule()) == ir.target_rules.end()) {
      continue;
    }
    std::vector<std::string> tuple;
    for (const std::string& l : ir.equal) tuple.push_back(labels[l]);
    if (inhibiting_[i].count(tuple) > 0) {
      ++stats_.muted_inhibit;
      return true;
    }
  }
  for (const Silence& s : silences) {
    if (s.Active(now_ms) && s.Matches(labels)) {
      ++stats_.muted_silence;
      return true;
    }
  }
  return false;
}

void Pipeline::Tick(int64_t now_ms, const std::vector<Silence>& silences) {
  BuildInhibitions();
  for (auto& [gk, g] : groups_) {
    const Rule& rule = rules_->rules()[g.rule];
    if (g.watch && g.first_change_ms == 0) {
      // Muted alerts that were never announced: once unmuted they are news.
      for (const std::string& key : engine_->FiringKeys(g.rule)) {
        if (g.notified.count(key) > 0) continue;
        const pb::Alert* a = engine_->FindAlert(key);
        if (a != nullptr && !Muted(*a, now_ms, silences)) {
          g.first_change_ms = now_ms;
          Mark(g);
          break;
        }
      }
    }
    if (g.first_change_ms != 0) {
      // A group that has announced nothing lately waits group_wait to gather its alerts; one that
      // has spoken waits out group_interval, which is what bounds a flapping value.
      const bool fresh =
          g.notified.empty() &&
          (g.last_flush_ms == 0 || now_ms - g.last_flush_ms >= config_.group_interval.count());
      const int64_t due =
          fresh ? g.first_change_ms + config_.group_wait.count()
                : std::max(g.first_change_ms, g.last_flush_ms + config_.group_interval.count());
      if (now_ms >= due) Flush(g, now_ms, false, silences);
      continue;
    }
    const int64_t repeat = rule.repeat_interval.value_or(config_.repeat_interval).count();
    if (!g.notified.empty() && now_ms >= g.last_firing_sent_ms + repeat) {
      Flush(g, now_ms, true, silences);
    }
  }
  SendDigests(now_ms);
}

void Pipeline::Flush(Group& g, int64_t now_ms, bool repeat_only,
                     const std::vector<Silence>& silences) {
  const Rule& rule = rules_->rules()[g.rule];
  Mark(g);
  std::vector<std::string> firing = engine_->FiringKeys(g.rule);
  // Announced alerts that are no longer firing without a RESOLVED (their rule changed): forget.
  for (auto it = g.notified.begin(); it != g.notified.end();) {
    if (!std::binary_search(firing.begin(), firing.end(), *it)) {
      it = g.notified.erase(it);
    } else {
      ++it;
    }
  }
  Notification fire;
  fire.receiver = g.receiver;
  fire.rule = rule.name;
  fire.kind = rule.is_nodata() && engine_->NodataStorm() ? Notification::Kind::kIncident
                                                         : Notification::Kind::kFiring;
  fire.severity = rule.severity;
  fire.time_ms = now_ms;
  fire.graphite_url = config_.graphite_url;
  bool news = false;
  bool muted_any = false;
  std::vector<std::string> unmuted;
  for (const std::string& key : firing) {
    const pb::Alert* a = engine_->FindAlert(key);
    if (a == nullptr) continue;
    if (Muted(*a, now_ms, silences)) {
      muted_any = true;
      continue;
    }
    if (g.notified.count(key) == 0) news = true;
    unmuted.push_back(key);
    fire.alerts.push_back(engine_->View(*a));
  }
  g.watch = muted_any;
  bool sent_all = true;
  if (!fire.alerts.empty() && (news || repeat_only)) {
    fire.id = g.receiver + "/" + rule.name + "/" + epoch_ + "-" + std::to_string(g.seq + 1);
    if (Send(std::move(fire), now_ms)) {
      ++g.seq;
      g.notified.insert(unmuted.begin(), unmuted.end());
      g.last_firing_sent_ms = now_ms;
    } else {
      sent_all = false;
    }
  }
  if (!repeat_only && !g.resolved.empty()) {
    Notification res;
    res.receiver = g.receiver;
    res.rule = rule.name;
    res.kind = Notification::Kind::kResolved;
    res.severity = rule.severity;
    res.time_ms = now_ms;
    res.graphite_url = config_.graphite_url;
    for (const auto& [key, a] : g.resolved) {
      if (Muted(a, now_ms, silences)) continue;
      AlertView v = engine_->View(a);
      v.ends_ms = a.time_ms();
      res.alerts.push_back(std::move(v));
    }
    if (!res.alerts.empty()) {
      res.id = g.receiver + "/" + rule.name + "/" + epoch_ + "-" + std::to_string(g.seq + 1);
      if (Send(std::move(res), now_ms)) {
        ++g.seq;
        g.resolved.clear();
      } else {
        sent_all = false;
      }
    } else {
      g.resolved.clear();
    }
  }
  // A refused message keeps the group due, so the next tick tries again.
  if (sent_all) {
    g.first_change_ms = 0;
    if (!repeat_only) g.last_flush_ms = now_ms;
  }
}

bool Pipeline::Send(Notification n, int64_t now_ms) {
  Receiver& r = receivers_[n.receiver];
  r.dirty = true;  // a send or a hold changes its bookkeeping either way
  while (!r.sent_ms.empty() && r.sent_ms.front() <= now_ms - kHourMs) r.sent_ms.pop_front();
  if (r.sent_ms.size() >= config_.max_notifications_per_hour) {
    r.overflow.push_back(Subject(n));
    ++stats_.held;
    return true;  // decided: it goes out in the digest
  }
  if (Status s = delivery_->Enqueue(n); !s.ok()) {
    // Retried every tick: log the first and then every 100th, with the count.
    if (stats_.enqueue_errors++ % 100 == 0) {
      spdlog::error("delivery refused {} ({} refusals so far): {}", n.id, stats_.enqueue_errors,
                    s.ToString());
    }
    return false;
  }
  r.sent_ms.push_back(now_ms);
  ++stats_.notifications;
  return true;
}

void Pipeline::SendDigests(int64_t now_ms) {
  for (auto& [name, r] : receivers_) {
    if (r.overflow.empty()) continue;
    while (!r.sent_ms.empty() && r.sent_ms.front() <= now_ms - kHourMs) r.sent_ms.pop_front();
    if (r.sent_ms.size() >= config_.max_notifications_per_hour) continue;
    Notification d;
    d.id = name + "/digest/" + epoch_ + "-" + std::to_string(r.digest_seq + 1);
    d.receiver = name;
    d.kind = Notification::Kind::kDigest;
    d.time_ms = now_ms;
    d.graphite_url = config_.graphite_url;
    d.digest_subjects = r.overflow;
    if (Status s = delivery_->Enqueue(d); !s.ok()) {
      if (stats_.enqueue_errors++ % 100 == 0) {
        spdlog::error("delivery refused {} ({} refusals so far): {}", d.id, stats_.enqueue_errors,
                      s.ToString());
      }
      continue;
    }
    ++r.digest_seq;
    r.sent_ms.push_back(now_ms);
    r.overflow.clear();
    r.dirty = true;
    ++stats_.notifications;
    ++stats_.digests;
  }
}

void Pipeline::SaveGroup(const Group& g, st::GroupState* gs) const {
  gs->set_receiver(g.receiver);
  gs->set_rule(rules_->rules()[g.rule].name);
  for (const std::string& k : g.notified) gs->add_notified(k);
  for (const auto& [k, a] : g.resolved) *gs->add_resolved() = a;
  gs->set_first_change_ms(g.first_change_ms);
  gs->set_last_flush_ms(g.last_flush_ms);
  gs->set_last_firing_sent_ms(g.last_firing_sent_ms);
  gs->set_seq(g.seq);
}

void Pipeline::SaveChanges(st::AlerterState* out) {
  out->set_epoch(epoch_);
  for (Group* g : dirty_) {
    g->dirty = false;
    SaveGroup(*g, out->add_groups());
  }
  dirty_.clear();
  // Expired send times are dropped again after a restart; only sends and holds mark a receiver.
  for (auto& [name, r] : receivers_) {
    if (!r.dirty) continue;
    r.dirty = false;
    st::ReceiverState* rs = out->add_receivers();
    rs->set_name(name);
    for (int64_t t : r.sent_ms) rs->add_sent_ms(t);
    for (const std::string& s : r.overflow) rs->add_overflow(s);
    rs->set_digest_seq(r.digest_seq);
  }
}

void Pipeline::ClearChanges() {
  for (Group* g : dirty_) g->dirty = false;
  dirty_.clear();
  for (auto& [name, r] : receivers_) r.dirty = false;
}

void Pipeline::Save(st::AlerterState* out) const {
  out->set_epoch(epoch_);
  for (const auto& [gk, g] : groups_) SaveGroup(g, out->add_groups());
  for (const auto& [name, r] : receivers_) {
    st::ReceiverState* rs = out->add_receivers();
    rs->set_name(name);
    for (int64_t t : r.sent_ms) rs->add_sent_ms(t);
    for (const std::string& s : r.overflow) rs->add_overflow(s);
    rs->set_digest_seq(r.digest_seq);
  }
}

void Pipeline::Load(const st::AlerterState& in) {
  dirty_.clear();
  by_rule_.clear();
  groups_.clear();
  receivers_.clear();
  if (!in.epoch().empty()) epoch_ = in.epoch();
  for (const st::GroupState& gs : in.groups()) {
    const int64_t index = rules_->IndexOf(gs.rule());
    if (index < 0) continue;
    Group& g = GroupFor(gs.receiver(), static_cast<uint32_t>(index));
    g.notified.insert(gs.notified().begin(), gs.notified().end());
    for (const pb::Alert& a : gs.resolved()) g.resolved[a.key()] = a;
    g.first_change_ms = gs.first_change_ms();
    g.last_flush_ms = gs.last_flush_ms();
    g.last_firing_sent_ms = gs.last_firing_sent_ms();
    g.seq = gs.seq();
    g.watch = true;  // look once: silences may have changed while we were down
  }
  for (const st::ReceiverState& rs : in.receivers()) {
    Receiver& r = receivers_[rs.name()];
    r.sent_ms.assign(rs.sent_ms().begin(), rs.sent_ms().end());
    r.overflow.assign(rs.overflow().begin(), rs.overflow().end());
    r.digest_seq = rs.digest_seq();
  }
}

}  // namespace hw::alerter
