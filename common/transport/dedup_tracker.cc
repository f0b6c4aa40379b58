#include "common/transport/dedup_tracker.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "common/transport/consumer_link.h"

namespace hw::transport {

bool SeqSet::Insert(uint64_t seq) {
  if (!runs_.empty()) {
    auto last = std::prev(runs_.end());
    if (seq == last->second + 1) {  // the common case: the next seq
      last->second = seq;
      return true;
    }
  }
  auto next = runs_.upper_bound(seq);  // the first run starting after seq
  if (next != runs_.begin()) {
    auto prev = std::prev(next);
    if (seq <= prev->second) return false;
    if (prev->second + 1 == seq) {
      prev->second = seq;
      if (next != runs_.end() && next->first == seq + 1) {
        prev->second = next->second;
        runs_.erase(next);
      }
      return true;
    }
  }
  if (next != runs_.end() && next->first == seq + 1) {
    const uint64_t last = next->second;
    runs_.erase(next);
    runs_.emplace(seq, last);
    return true;
  }
  runs_.emplace(seq, seq);
  if (runs_.size() > max_runs_) {
    // Forget the lowest gap: its seqs count as seen from now on.
    auto first = runs_.begin();
    auto second = std::next(first);
    first->second = second->second;
    runs_.erase(second);
  }
  return true;
}

DedupTracker::DedupTracker(Options options, std::map<std::string, SourceSummary>* summaries)
    : options_(options), summaries_(summaries) {}

std::string DedupTracker::Key(std::string_view source, uint64_t epoch) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(epoch));
  std::string key;
  key.reserve(source.size() + 17);
  key.append(source);
  key.push_back('#');
  key.append(hex, 16);
  return key;
}

bool DedupTracker::Insert(std::string_view source, uint64_t epoch, uint64_t seq, uint64_t items,
                          int64_t now_ms) {
  auto sit = sources_.find(source);
  if (sit == sources_.end()) sit = sources_.emplace(std::string(source), Source{}).first;
  Source& src = sit->second;
  Epoch* e = src.last;
  if (e == nullptr || e->epoch != epoch) {
    auto [it, added] = src.epochs.try_emplace(epoch);
    e = &it->second;
    if (added) {
      e->epoch = epoch;
      e->seen = SeqSet(options_.max_runs_per_epoch);
      ++pairs_;
      e->summary = summaries_->try_emplace(Key(source, epoch)).first;
    }
    src.last = e;
  }
  e->last_ms = now_ms;
  SourceSummary& s = e->summary->second;
  if (!e->seen.Insert(seq)) {
    ++s.duplicates;
    return false;
  }
  ++s.received;
  s.items += items;
  s.max_seq = std::max(s.max_seq, seq);
  s.missing = s.max_seq - s.received;
  return true;
}

size_t DedupTracker::ForgetIdle(int64_t now_ms) {
  const int64_t forget = static_cast<int64_t>(options_.forget_after.count());
  if (swept_ && now_ms - last_sweep_ms_ < std::max<int64_t>(forget / 4, 1)) return 0;
  swept_ = true;
  last_sweep_ms_ = now_ms;
  size_t gone = 0;
  for (auto sit = sources_.begin(); sit != sources_.end();) {
    Source& src = sit->second;
    for (auto eit = src.epochs.begin(); eit != src.epochs.end();) {
      if (now_ms - eit->second.last_ms < forget) {
        ++eit;
        continue;
      }
      if (src.last == &eit->second) src.last = nullptr;
      summaries_->erase(eit->second.summary);
      eit = src.epochs.erase(eit);
      --pairs_;
      ++gone;
    }
    sit = src.epochs.empty() ? sources_.erase(sit) : std::next(sit);
  }
  return gone;
}

}  // namespace hw::transport
