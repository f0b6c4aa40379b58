#include "broker/dedup_snapshot.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "common/io/atomic_file.h"

namespace hw::broker {

namespace {
std::filesystem::path SnapshotPath(const std::string& data_dir) {
  return std::filesystem::path(data_dir) / "dedup.snapshot";
}
}  // namespace

Status SaveSourceTable(const std::string& data_dir, const SourceTable& table,
                       const Journal& journal) {
  std::vector<uint64_t> next;
  for (const auto& p : journal.partitions) next.push_back(p->next_offset());
  return io::WriteFileAtomic(SnapshotPath(data_dir), table.Serialize(next));
}

Result<SourceTable> RecoverSourceTable(const std::string& data_dir, const Journal& journal) {
  SourceTable table;
  const size_t parts = journal.partitions.size();
  std::vector<uint64_t> from(parts, 0);
  Result<std::string> snap = io::ReadWholeFile(SnapshotPath(data_dir));
  if (snap.ok()) {
    Result<std::vector<uint64_t>> covered = table.Load(*snap);
    bool usable = covered.ok() && covered->size() == parts;
    for (size_t p = 0; usable && p < parts; ++p) {
      // A snapshot ahead of the journal (its tail was lost) would make resends look like
      // duplicates and drop them: never use it then.
      if ((*covered)[p] > journal.partitions[p]->next_offset()) usable = false;
    }
    if (usable) {
      from = *covered;
    } else {
      spdlog::warn("dedup snapshot unusable ({}); rebuilding from the whole journal",
                   covered.ok() ? "partition count or offsets differ" : covered.status().message());
      table = SourceTable();
    }
  } else if (snap.status().code() != StatusCode::kNotFound) {
    return snap.status();
  }
  uint64_t replayed = 0;
  for (size_t p = 0; p < parts; ++p) {
    const Partition& part = *journal.partitions[p];
    uint64_t start = std::max(from[p], part.first_offset());
    while (start < part.next_offset()) {
      uint64_t resume = start;
      Status s = part.Read(
          start, 65536, 64u << 20,
          [&](uint64_t, std::string_view bytes) {
            if (Result<EnvelopeHeader> h = ParseEnvelopeHeader(bytes); h.ok()) {
              table.Observe(h->source, h->epoch, h->seq, 0);
            }
            ++replayed;
            return true;
          },
          &resume);
      HW_RETURN_IF_ERROR(s);
      if (resume <= start) break;  // no progress: nothing further is readable
      start = resume;
    }
  }
  spdlog::info("dedup table: {} sources ({} journal records replayed)", table.size(), replayed);
  return table;
}

}  // namespace hw::broker
