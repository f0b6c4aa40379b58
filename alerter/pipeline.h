// The notification pipeline (alerter/README.md, Deciding when to tell): decides WHEN to tell
// people, and hands finished Notifications to Delivery (alerter/notification.h), which decides
// nothing.
//
// Groups: one per (receiver, rule). A group that had nothing to say waits group_wait after its
// first new FIRING alert, so a switch that takes 500 hosts down gives one message listing 500;
// after that, changes go out at most every group_interval, so a flapping value gives at most one
// message per interval. While alerts stay firing, they are repeated every repeat_interval (the
// rule's, or the alerter's). A RESOLVED notice goes out only for alerts whose FIRING went out.
//
// Muting, judged at send time: silences (silences_file) and inhibit rules (a firing source alert,
// e.g. host_silent, mutes the alerts of other rules with equal labels, e.g. the same endpoint).
// A muted alert is not counted as announced, so the notifications come back when the silence ends.
//
// Storms: a nodata rule's message is an incident (Notification::kIncident) while the engine says
// that more than nodata_storm_percent of known hosts are silent. Per receiver, at most
// max_notifications_per_hour go out; the overflow is held and sent as one digest when the hour's
// budget allows.
//
// Time is the wall clock passed in (ms). Single-threaded: the sink thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "alerter/alerter_state.pb.h"
#include "alerter/config.h"
#include "alerter/notification.h"
#include "alerter/silences.h"
#include "alerter/state.h"

namespace hw::alerter {

struct PipelineStats {
  uint64_t notifications = 0;  // handed to delivery (digests included)
  uint64_t digests = 0;
  uint64_t held = 0;            // over a receiver's hourly budget, into its next digest
  uint64_t muted_silence = 0;   // alerts left out of a message by a silence
  uint64_t muted_inhibit = 0;   // ... by an inhibit rule
  uint64_t enqueue_errors = 0;  // delivery refused; retried on the next tick
};

// The subject and one line per alert (or held-back subject): what `hostwatch test-alerts` prints
// and the journal stand-in for delivery writes. Not the mail body (alerter/delivery/ owns that).
std::string DescribeNotification(const Notification& n);

class Pipeline {
 public:
  Pipeline(const PipelineConfig& config, const RuleSet* rules, const AlertEngine* engine,
           Delivery* delivery);

  // An engine change (only those with notify set matter).
  void OnChange(const AlertChange& change, int64_t now_ms);
  // Sends what is due.
  void Tick(int64_t now_ms, const std::vector<Silence>& silences);

  PipelineStats stats() const { return stats_; }
  // Part of every Notification id (AlerterState.epoch); Load restores a saved one.
  void set_epoch(std::string epoch) { epoch_ = std::move(epoch); }
  const std::string& epoch() const { return epoch_; }
  void Save(hostwatch::alerter::v1::AlerterState* out) const;
  void Load(const hostwatch::alerter::v1::AlerterState& in);
  // A delta for the state journal: the epoch, and the groups and receivers touched since the
  // last SaveChanges or ClearChanges.
  void SaveChanges(hostwatch::alerter::v1::AlerterState* out);
  void ClearChanges();

 private:
  struct Group {
    std::string receiver;
    uint32_t rule = 0;
    std::set<std::string> notified;                        // keys announced FIRING
    std::map<std::string, hostwatch::v1::Alert> resolved;  // healed, not yet announced
    int64_t first_change_ms = 0;                           // 0: nothing new to say
    int64_t last_flush_ms = 0;
    int64_t last_firing_sent_ms = 0;
    uint64_t seq = 0;
    bool watch = false;  // firing alerts are muted: look again every tick
    bool dirty = false;  // in dirty_
  };
  struct Receiver {
    std::deque<int64_t> sent_ms;
    std::vector<std::string> overflow;
    uint64_t digest_seq = 0;
    bool dirty = false;  // changed since the last SaveChanges
  };

  Group& GroupFor(const std::string& receiver, uint32_t rule);
  void Mark(Group& g) {
    if (!g.dirty) {
      g.dirty = true;
      dirty_.push_back(&g);
    }
  }
  void SaveGroup(const Group& g, hostwatch::alerter::v1::GroupState* gs) const;
  void Flush(Group& g, int64_t now_ms, bool repeat_only, const std::vector<Silence>& silences);
  bool Muted(const hostwatch::v1::Alert& a, int64_t now_ms, const std::vector<Silence>& silences);
  void BuildInhibitions();
  // Sends n or holds it for the digest. False when delivery refused it (try again later).
  bool Send(Notification n, int64_t now_ms);
  void SendDigests(int64_t now_ms);

  PipelineConfig config_;
  const RuleSet* rules_;
  const AlertEngine* engine_;
  Delivery* delivery_;
  std::map<std::string, Group> groups_;       // "<receiver>/<rule>"
  std::vector<Group*> dirty_;                 // nodes of groups_ (never erased but by Load)
  std::vector<std::vector<Group*>> by_rule_;  // rule index -> its groups (nodes of groups_)
  std::map<std::string, Receiver> receivers_;
  // Per inhibit rule: the label tuples of its firing source alerts (rebuilt each tick).
  std::vector<std::set<std::vector<std::string>>> inhibiting_;
  PipelineStats stats_;
  std::string epoch_ = "0";
};

}  // namespace hw::alerter
