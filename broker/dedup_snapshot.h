// The dedup table's life across restarts (docs/broker.md, Data directory: the per-source
// (epoch, last_seq) table is recovered with the journal): a snapshot file written every few seconds
// by the frontend, and at start the snapshot plus a replay of the journal records after the offsets
// it covers.
#pragma once

#include <string>

#include "broker/broker_state.h"
#include "broker/source_table.h"
#include "common/status/status.h"

namespace hw::broker {

// Loads data_dir/dedup.snapshot and replays the journal after it; falls back to the whole journal
// when the snapshot is missing, corrupt or ahead of the journal.
Result<SourceTable> RecoverSourceTable(const std::string& data_dir, const Journal& journal);
// Writes the snapshot atomically. Call only after an fsync of the journal: a snapshot must never
// claim records the disk does not have.
Status SaveSourceTable(const std::string& data_dir, const SourceTable& table,
                       const Journal& journal);

}  // namespace hw::broker
