// The offsets file: where each followed file is read up to, together with the interval aggregates
// those lines went into, and a two-phase marker tied to the producer spool (docs/logwatch.md).
//
// Before each Publish the service writes {mark = the spool index this envelope will get,
// before = the state without it, after = the state with it}, atomically; then it publishes. The
// spool's next index after a restart says which of the two happened: > mark means the envelope is
// in the spool (use `after`), otherwise it is not (use `before`). So a kill -9 anywhere loses
// nothing and repeats nothing, without any dedup downstream.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status/status.h"
#include "logwatch/interval_stats.h"

namespace hw::logwatch {

struct FileState {
  std::string path;  // the watched path this file was followed as
  uint64_t dev = 0, ino = 0;
  uint32_t fp_len = 0;  // fingerprint: FNV-1a of the first fp_len bytes (at most kFingerprintBytes)
  uint64_t fp_hash = 0;
  uint64_t offset = 0;    // every line before this is fully accounted for
  bool skipping = false;  // offset is inside an over-long line whose head was already handled
  bool draining = false;  // rotated away: finish it, then forget it
  std::vector<std::pair<std::string, uint64_t>> pending;  // multiline rule -> record start offset

  bool operator==(const FileState&) const = default;
};

struct Snapshot {
  std::vector<FileState> files;
  int64_t interval_end_ms = 0;  // the interval the stats belong to ends here (0: not started)
  IntervalStats stats;
  // The self-metric counters (bytes_read, lines_matched, ...) as published with this state, so a
  // restart under the same producer epoch carries on counting instead of starting at zero, which
  // graphite and the alerter would read as a counter reset. Files written before this line
  // existed decode with none (the counters then start at zero once).
  std::map<std::string, uint64_t> counters;

  bool operator==(const Snapshot& o) const {
    return files == o.files && interval_end_ms == o.interval_end_ms && stats == o.stats &&
           counters == o.counters;
  }
};

struct StateFile {
  uint64_t mark = 0;
  Snapshot before, after;
};

std::string EncodeState(const StateFile& s);
// DataLoss on a file that does not parse (the service then starts over, logging it).
Result<StateFile> DecodeState(std::string_view text);
// The snapshot that matches what the spool holds, given its next_index() at start-up.
const Snapshot& ChooseSnapshot(const StateFile& s, uint64_t spool_next_index);

}  // namespace hw::logwatch
