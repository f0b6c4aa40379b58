// The broker's dedup table (DESIGN.md §3): per producer source, the last seq appended for each of
// its epochs. Decides for every arriving envelope whether to append it, re-ack it as a duplicate,
// or answer a gap, and is what makes producer resends after a restart harmless.
//
// Rules (go-back-N):
//   (source, epoch) seen before:  seq == last + 1 -> append;  seq <= last -> duplicate (ack last);
//                                 seq >  last + 1 -> gap (ack last; the producer resends last + 1)
//   (source, epoch) never seen:   append whatever seq arrives first (a producer that failed over
//                                 from another broker, or a new epoch, is never stuck)
// A source keeps its few most recent epochs so that envelopes of an old epoch still in flight after
// a producer re-epoched are judged against their own epoch, not taken for a new one.
//
// Persistence: Serialize() snapshots the table together with the journal offsets it covers; at
// start the broker loads the snapshot and replays journal records after those offsets (Observe), so
// dedup survives restarts without scanning the whole journal.
//
// Thread-safety: none; owned by the broker's frontend thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status/status.h"

namespace hw::broker {

enum class Verdict { kAppend, kDuplicate, kGap };

struct Decision {
  Verdict verdict;
  // What to ack: for kAppend the seq itself once appended, else the last appended.
  uint64_t ack_seq;
};

struct SourceState {
  uint64_t current_epoch = 0;
  std::map<uint64_t, uint64_t> last_seq;  // epoch -> last appended seq; at most kMaxEpochs entries
  std::vector<uint64_t> epoch_order;      // oldest first, for eviction
  int64_t last_seen_ms = 0;
  uint64_t envelopes = 0;  // appended since the broker started (for rates)
};

class SourceTable {
 public:
  static constexpr size_t kMaxEpochs = 4;
  // Looked up by string_view on every envelope: a transparent hash avoids building a key string.
  struct SourceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, SourceState, SourceHash, std::equal_to<>>;

  Decision Check(std::string_view source, uint64_t epoch, uint64_t seq) const;
  // Records that (source, epoch, seq) is journaled (appended or rejected-and-consumed).
  void Observe(std::string_view source, uint64_t epoch, uint64_t seq, int64_t now_ms);

  const Map& sources() const { return sources_; }
  size_t size() const { return sources_.size(); }

  // Snapshot with the journal offsets (next offset per partition) it covers.
  std::string Serialize(const std::vector<uint64_t>& covered_next_offsets) const;
  // Replaces the table; returns the covered offsets. A snapshot that fails its checksum or parse is
  // an error (the caller then rebuilds from the whole journal).
  Result<std::vector<uint64_t>> Load(std::string_view snapshot);

 private:
  Map sources_;
};

// The header fields of a serialized Envelope (source, epoch, seq), read without parsing the body:
// recovery replays the whole journal tail, and parsing every batch would be needlessly slow.
struct EnvelopeHeader {
  std::string source;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  int body_field = 0;  // 10 samples, 11 events, 12 alerts (the Envelope oneof); 0 when absent
};
Result<EnvelopeHeader> ParseEnvelopeHeader(std::string_view bytes);

}  // namespace hw::broker
