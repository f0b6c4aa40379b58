// The broker's dedup table (docs/wire_format.md §4): per producer source, the last seq appended for
// each of its epochs. Decides for every arriving envelope whether to append it, re-ack it as a
// duplicate, or answer a gap, and is what makes producer resends after a restart harmless.
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
#include <optional>
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
  // The last seq appended for (source, epoch); nullopt when the table does not know the stream.
  std::optional<uint64_t> LastSeq(std::string_view source, uint64_t epoch) const;
  // Records that (source, epoch, seq) is journaled. A new source beyond max_sources() first evicts
  // the least recently seen eighth of the table (counted in evicted()): forgetting a source costs
  // at most a duplicate on its next resend, never a loss, since an unknown stream appends whatever
  // arrives first. Returns whether the source is new to the table.
  bool Observe(std::string_view source, uint64_t epoch, uint64_t seq, int64_t now_ms);
  // For an envelope rejected by its content: uses up its seq only when (source, epoch) is already
  // in the table, so the stream goes on; never creates a source or an epoch (a rejected envelope
  // must not grow the table). Returns whether the seq was recorded.
  bool ObserveIfKnown(std::string_view source, uint64_t epoch, uint64_t seq, int64_t now_ms);
  // Forgets sources not seen for ttl_ms; a source with last_seen 0 (replayed from the journal at
  // start) gets now_ms as its last sighting instead. Returns how many were removed.
  size_t ExpireIdle(int64_t now_ms, int64_t ttl_ms);

  void set_max_sources(size_t n) { max_sources_ = n == 0 ? 1 : n; }
  size_t max_sources() const { return max_sources_; }
  uint64_t evicted() const { return evicted_; }

  const Map& sources() const { return sources_; }
  size_t size() const { return sources_.size(); }

  // Snapshot with the journal offsets (next offset per partition) it covers.
  std::string Serialize(const std::vector<uint64_t>& covered_next_offsets) const;
  // Replaces the table; returns the covered offsets. A snapshot that fails its checksum or parse is
  // an error (the caller then rebuilds from the whole journal).
  Result<std::vector<uint64_t>> Load(std::string_view snapshot);

 private:
  void EvictOldest();

  Map sources_;
  size_t max_sources_ = 100000;
  uint64_t evicted_ = 0;
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

// The frontend's parse of a producer's envelope: the header as above, and the source valid
// (naming::ValidateSource: bounded length and charset) and seq >= 1, checked on views into `bytes`
// before anything is copied, so hostile header fields never reach a string, the table or a log
// line whole. The error says which field; it never carries more than a short quote of the source.
Result<EnvelopeHeader> ParseProducerHeader(std::string_view bytes);

}  // namespace hw::broker
