// AlertEngine: the state of every alert key, OK -> PENDING -> FIRING -> RESOLVED
// (docs/alerting.md).
//
// Time: windows, `for` and log-event windows run on the samples' own time_ms; `nodata` and the
// expiry of log-event windows run on the wall clock passed to Tick. Nodata is suspended while the
// alerter lags (it is replaying a backlog: the wall clock says nothing about those hosts yet) and
// for one nodata duration after Start (hosts had no chance to report).
//
// A replayed point (time_ms not newer than its series' last) never enters a window twice, so
// re-delivery of an uncommitted tail after a crash changes nothing.
//
// Pure and single-threaded: the alerter's sink thread owns it; no clock, no I/O. Save/Load map it
// to the state file's messages.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "alerter/alerter_state.pb.h"
#include "alerter/notification.h"
#include "alerter/rules.h"
#include "common/naming/sample_wire.h"
#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::alerter {

// One transition of one alert key.
struct AlertChange {
  hostwatch::v1::Alert alert;  // the new state (RESOLVED also when a PENDING alert cleared)
  uint32_t rule = 0;           // index into the RuleSet
  // True for what people hear about: -> FIRING, and FIRING -> RESOLVED.
  bool notify = false;
};

struct EngineStats {
  uint64_t samples = 0;    // samples seen
  uint64_t evaluated = 0;  // (sample, rule) pairs judged
  uint64_t replayed = 0;   // points not newer than their series' last: ignored
  uint64_t events = 0;
  uint64_t series = 0;
  uint64_t firing = 0;
  uint64_t pending = 0;
};

class AlertEngine {
 public:
  struct Options {
    uint32_t nodata_storm_percent = 30;
    // Hosts not heard from for this long are forgotten (no longer counted as known).
    int64_t host_forget_ms = 7 * 24 * 3600 * 1000LL;
    uint32_t max_log_lines = 10;  // per log-event window, for mails
  };
  AlertEngine(const RuleSet* rules, Options options);

  // The wall-clock start: nodata waits one duration from here.
  void Start(int64_t now_ms) { started_ms_ = now_ms; }

  // One sample of `endpoint`: the per-sample work for both ways in. The sink reads samples
  // straight from the envelope's bytes (naming::SamplesWire, no Sample objects); OnSamples takes
  // them from a parsed batch. `tags` as on the wire: any order, a key may repeat (the last wins,
  // as in a protobuf map); they are sorted in place. The series is the same either way.
  void OnSample(std::string_view endpoint, std::string_view metric, naming::TagView* tags,
                size_t tag_count, double value, int64_t time_ms, std::vector<AlertChange>* out);
  void OnSample(std::string_view endpoint, naming::SampleView* s, std::vector<AlertChange>* out) {
    OnSample(endpoint, s->metric, s->tags, s->tag_count, s->value, s->time_ms, out);
  }
  // After a batch's samples: its host was heard from (newest_ms, the newest sample's time; 0 for
  // none) with these host tags (as on the wire; sorted in place).
  void OnHost(std::string_view endpoint, int64_t newest_ms, naming::TagView* host_tags,
              size_t host_tag_count);
  // OnSample for each sample from the `skip`-th on, then OnHost. `skip`: the first samples were
  // judged already (the sink's wire reader stopped at one it could not read simply).
  void OnSamples(const hostwatch::v1::SampleBatch& batch, std::vector<AlertChange>* out,
                 size_t skip = 0);
  void OnEvents(const hostwatch::v1::EventBatch& batch, std::vector<AlertChange>* out);
  // nodata and the expiry of log-event windows. `lagging`: the input is a backlog.
  void Tick(int64_t now_ms, bool lagging, std::vector<AlertChange>* out);

  // More than nodata_storm_percent of known hosts have a nodata alert: one incident, not one mail
  // per host (the pipeline asks at flush time).
  bool NodataStorm() const;
  size_t known_hosts() const { return hosts_.size(); }

  // Alerts that are FIRING, by rule index; keys sorted.
  std::vector<std::string> FiringKeys(uint32_t rule) const;
  const hostwatch::v1::Alert* FindAlert(const std::string& key) const;
  // Everything a person needs to read about an alert (from its series or event window).
  AlertView View(const hostwatch::v1::Alert& alert) const;
  // rule, endpoint, series, severity and the series' tags: what silences and inhibit match.
  std::map<std::string, std::string> Labels(const hostwatch::v1::Alert& alert) const;

  EngineStats stats() const;

  void Save(hostwatch::alerter::v1::AlerterState* out) const;
  // Replaces the state. Alerts of rules that no longer exist are dropped.
  void Load(const hostwatch::alerter::v1::AlerterState& in);
  // A delta for the state journal (alerter/state_store.h): the series, event windows and hosts
  // that changed since the last SaveChanges or ClearChanges, the open alerts of those series, and
  // the alert keys opened, changed or closed (closed ones in removed_alerts).
  void SaveChanges(hostwatch::alerter::v1::AlerterState* out);
  // After a whole Save: nothing is pending.
  void ClearChanges();
  // A change a delta cannot say (a forgotten host): the next save must be whole.
  bool needs_whole() const { return needs_whole_; }

 private:
  struct Series {
    std::string endpoint;
    std::string metric;
    std::map<std::string, std::string> tags;
    std::string name;           // SeriesName
    std::vector<Point> window;  // small (the longest #N): a vector keeps it contiguous
    uint32_t capacity = 1;
    int64_t last_ms = 0;
    std::vector<uint32_t> rules;  // matching rules (any kind)
    // Parallel to rules: the open (PENDING or FIRING) alert of that rule, a node of alerts_, or
    // null. A point then never builds a key unless it opens an alert.
    std::vector<hostwatch::v1::Alert*> alert;
    bool has_nodata = false;
    uint32_t index = 0;  // in series_store_
    bool dirty = false;  // in dirty_series_
  };
  struct EventWindow {
    std::string endpoint;
    std::string event_rule;
    std::deque<std::pair<int64_t, uint64_t>> hits;  // (time_ms, weight)
    std::deque<std::string> lines;
    int64_t last_ms = 0;
    bool dirty = false;
  };
  struct Host {
    std::map<std::string, std::string> host_tags;
    int64_t last_seen_ms = 0;
    bool dirty = false;
  };

  // tags: sorted by key, each key once (naming::SortTags).
  Series& SeriesFor(std::string_view endpoint, std::string_view metric,
                    std::span<const naming::TagView> tags);
  Series& AddSeries(Series s);
  void TransitionSeries(Series* s, size_t k, bool decided, bool breach, bool clear, double value,
                        int64_t t_ms, std::vector<AlertChange>* out) {
    Transition(s->rules[k], s->endpoint, s->name, decided, breach, clear, value, t_ms, out,
               &s->alert[k]);
  }
  void Rematch(Series* s) const;
  // slot: the series' cached pointer to this alert (kept in step), or null to look it up by key.
  void Transition(uint32_t rule_index, const std::string& endpoint, const std::string& series,
                  bool decided, bool breach, bool clear, double value, int64_t t_ms,
                  std::vector<AlertChange>* out, hostwatch::v1::Alert** slot = nullptr);
  void JudgeEventWindow(EventWindow& w, int64_t end_ms, std::vector<AlertChange>* out);
  static std::string SeriesId(std::string_view endpoint, std::string_view series_name);
  void MarkSeries(Series& s) {
    if (!s.dirty) {
      s.dirty = true;
      dirty_series_.push_back(s.index);
    }
  }
  void MarkHost(const std::string& endpoint, Host& h) {
    if (!h.dirty) {
      h.dirty = true;
      dirty_hosts_.push_back(endpoint);
    }
  }
  void MarkEvents(EventWindow& w) {
    if (!w.dirty) {
      w.dirty = true;
      dirty_events_.push_back(SeriesId(w.endpoint, w.event_rule));
    }
  }

  const RuleSet* rules_;
  Options options_;
  int64_t started_ms_ = 0;
  // Series live in a deque (stable addresses) and are found by a hash of (endpoint, metric, tags)
  // computed without building strings: the per-sample cost is one hash and one lookup.
  std::deque<Series> series_store_;
  // (hash -> index into series_store_) with open addressing: a sample's lookup reads one slot of a
  // flat array where a node-based multimap chased pointers (a fifth of evaluation time in perf).
  class SeriesIndex {
   public:
    static constexpr uint32_t kNone = ~0u;
    void Clear() {
      slots_.clear();
      used_ = 0;
    }
    void Insert(uint64_t hash, uint32_t index) {
      if ((used_ + 1) * 2 > slots_.size()) Grow();
      Place(hash, index);
      ++used_;
    }
    // The first index with this hash for which same(index) holds, or kNone.
    template <class Same>
    uint32_t Find(uint64_t hash, Same same) const {
      if (slots_.empty()) return kNone;
      const size_t mask = slots_.size() - 1;
      for (size_t i = Start(hash) & mask;; i = (i + 1) & mask) {
        const Slot& slot = slots_[i];
        if (slot.index == kNone) return kNone;
        if (slot.hash == hash && same(slot.index)) return slot.index;
      }
    }

   private:
    // The low bits pick the slot: mix the high ones in.
    static size_t Start(uint64_t h) {
      h ^= h >> 33;
      h *= 0xff51afd7ed558ccdull;
      return static_cast<size_t>(h ^ (h >> 33));
    }
    struct Slot {
      uint64_t hash = 0;
      uint32_t index = kNone;
    };
    void Place(uint64_t hash, uint32_t index) {
      const size_t mask = slots_.size() - 1;
      size_t i = Start(hash) & mask;
      while (slots_[i].index != kNone) i = (i + 1) & mask;
      slots_[i] = Slot{hash, index};
    }
    void Grow() {
      std::vector<Slot> old = std::move(slots_);
      slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
      for (const Slot& slot : old) {
        if (slot.index != kNone) Place(slot.hash, slot.index);
      }
    }
    std::vector<Slot> slots_;
    size_t used_ = 0;
  };
  SeriesIndex series_by_hash_;
  std::unordered_map<std::string, uint32_t> series_by_id_;  // SeriesId -> index (View, Labels)
  std::vector<uint32_t> nodata_series_;                     // indexes with a nodata rule
  std::map<std::string, EventWindow> event_windows_;        // by SeriesId(endpoint, event_rule)
  // Looked up by the wire's string_view endpoint without building a string.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Host, StringHash, std::equal_to<>> hosts_;
  std::vector<naming::TagView> pb_tags_;  // OnSamples: a parsed sample's tags, as views
  std::map<std::string, hostwatch::v1::Alert> alerts_;  // PENDING and FIRING, by key
  mutable EngineStats stats_;
  // Changed since the last SaveChanges.
  std::vector<uint32_t> dirty_series_;
  std::vector<std::string> dirty_hosts_;
  std::vector<std::string> dirty_events_;
  std::unordered_set<std::string> dirty_alerts_;  // opened, changed state, closed (by key)
  bool needs_whole_ = false;
};

}  // namespace hw::alerter
