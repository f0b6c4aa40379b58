// The consumer link's duplicate filter (docs/wire_format.md §5 "Dedup"): which (source, epoch, seq)
// it has already handed out, and the per-(source, epoch) counts behind `hostwatch consume --format
// summary` (ConsumerStats::sources).
//
// Rules:
//   - Per (source, epoch) the seqs seen are kept as disjoint, non-adjacent runs [first, last], so
//   an
//     in-order stream is one run however long. Past max_runs_per_epoch gaps the lowest gap is taken
//     as seen (a late arrival there would count as a duplicate); `missing` is computed from counts
//     and stays exact.
//   - A (source, epoch) with no delivery for forget_after is forgotten, its runs and its summary
//     alike: every `hostwatch send` from cron is an epoch of its own, and a consumer that runs for
//     months must not keep them all. Should the pair come back after that, it starts afresh, and a
//     duplicate of what was forgotten passes once more (at least once, as after a consumer
//     restart). A pair that keeps delivering is never forgotten, so its summary stays exact.
//   - ForgetIdle sweeps at most every forget_after / 4, so calling it on every poll costs nothing;
//     a pair is gone between forget_after and 1.25 x forget_after after its last delivery.
//
// Times are monotonic ms (hw::Clock::MonoMs). Thread-safety: none; one owner thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hw::transport {

struct SourceSummary;

// The seqs seen of one (source, epoch), as runs; see the rules above.
class SeqSet {
 public:
  explicit SeqSet(size_t max_runs = size_t{1} << 16) : max_runs_(max_runs < 2 ? 2 : max_runs) {}
  // False when seq was already in the set.
  bool Insert(uint64_t seq);
  size_t runs() const { return runs_.size(); }

 private:
  size_t max_runs_;
  std::map<uint64_t, uint64_t> runs_;  // first -> last
};

class DedupTracker {
 public:
  struct Options {
    std::chrono::milliseconds forget_after{std::chrono::hours(1)};
    size_t max_runs_per_epoch = size_t{1} << 16;
  };
  // `summaries` (keyed "<source>#<epoch as 16 hex digits>") is updated in place and must outlive
  // the tracker; entries of forgotten pairs are erased from it.
  DedupTracker(Options options, std::map<std::string, SourceSummary>* summaries);

  // Records a delivery of (source, epoch, seq) carrying `items` items. False when it was seen
  // before (counted as a duplicate in its summary).
  bool Insert(std::string_view source, uint64_t epoch, uint64_t seq, uint64_t items,
              int64_t now_ms);
  // Forgets pairs idle for forget_after (see the rules); returns how many went.
  size_t ForgetIdle(int64_t now_ms);

  size_t pairs() const { return pairs_; }

  // "<source>#<epoch as 16 hex digits>": the key of ConsumerStats::sources.
  static std::string Key(std::string_view source, uint64_t epoch);

 private:
  struct Epoch {
    uint64_t epoch = 0;
    SeqSet seen;
    int64_t last_ms = 0;
    // Into *summaries_: a std::map, so it stays valid while other entries come and go.
    std::map<std::string, SourceSummary>::iterator summary;
  };
  struct Source {
    std::map<uint64_t, Epoch> epochs;  // a std::map: `last` stays valid while others go
    Epoch* last = nullptr;             // the epoch of the previous delivery: the common case
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Options options_;
  std::map<std::string, SourceSummary>* summaries_;
  std::unordered_map<std::string, Source, Hash, std::equal_to<>> sources_;
  size_t pairs_ = 0;
  int64_t last_sweep_ms_ = 0;
  bool swept_ = false;
};

}  // namespace hw::transport
