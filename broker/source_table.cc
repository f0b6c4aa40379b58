#include "broker/source_table.h"

#include <algorithm>
#include <cstring>

#include "common/io/crc32c.h"
#include "common/io/file_io.h"
#include "common/naming/envelope_wire.h"
#include "common/naming/naming.h"

namespace hw::broker {
namespace {

constexpr uint32_t kSnapshotMagic = 0x48574454;  // "HWDT"
constexpr uint32_t kSnapshotVersion = 1;

// A bounds-checked little-endian reader over the snapshot.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool U32(uint32_t* v) {
    if (s_.size() < 4) return false;
    *v = io::GetFixed32(s_.data());
    s_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (s_.size() < 8) return false;
    *v = io::GetFixed64(s_.data());
    s_.remove_prefix(8);
    return true;
  }
  bool Bytes(size_t n, std::string* v) {
    if (s_.size() < n) return false;
    v->assign(s_.data(), n);
    s_.remove_prefix(n);
    return true;
  }
  bool empty() const { return s_.empty(); }

 private:
  std::string_view s_;
};

}  // namespace

Decision SourceTable::Check(std::string_view source, uint64_t epoch, uint64_t seq) const {
  auto it = sources_.find(source);
  if (it == sources_.end()) return {Verdict::kAppend, seq};
  auto e = it->second.last_seq.find(epoch);
  if (e == it->second.last_seq.end()) return {Verdict::kAppend, seq};
  const uint64_t last = e->second;
  if (seq == last + 1) return {Verdict::kAppend, seq};
  if (seq <= last) return {Verdict::kDuplicate, last};
  return {Verdict::kGap, last};
}

std::optional<uint64_t> SourceTable::LastSeq(std::string_view source, uint64_t epoch) const {
  auto it = sources_.find(source);
  if (it == sources_.end()) return std::nullopt;
  auto e = it->second.last_seq.find(epoch);
  if (e == it->second.last_seq.end()) return std::nullopt;
  return e->second;
}

void SourceTable::EvictOldest() {
  // A bulk eviction keeps the cost per new source O(1) amortized while the table is full.
  std::vector<std::pair<int64_t, const std::string*>> by_age;
  by_age.reserve(sources_.size());
  for (const auto& [name, st] : sources_) by_age.emplace_back(st.last_seen_ms, &name);
  const size_t n = std::max<size_t>(1, sources_.size() / 8);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<ptrdiff_t>(n - 1), by_age.end());
  std::vector<std::string> victims;
  victims.reserve(n);
  for (size_t i = 0; i < n; ++i) victims.push_back(*by_age[i].second);
  for (const std::string& v : victims) sources_.erase(v);
  evicted_ += victims.size();
}

bool SourceTable::Observe(std::string_view source, uint64_t epoch, uint64_t seq, int64_t now_ms) {
  auto found = sources_.find(source);
  const bool created = found == sources_.end();
  if (created) {
    if (sources_.size() >= max_sources_) EvictOldest();
    found = sources_.emplace(std::string(source), SourceState{}).first;
  }
  SourceState& st = found->second;
  auto [it, inserted] = st.last_seq.try_emplace(epoch, seq);
  if (inserted) {
    st.epoch_order.push_back(epoch);
    if (st.epoch_order.size() > kMaxEpochs) {
      st.last_seq.erase(st.epoch_order.front());
      st.epoch_order.erase(st.epoch_order.begin());
    }
  } else {
    it->second = std::max(it->second, seq);
  }
  st.current_epoch = epoch;
  st.last_seen_ms = std::max(st.last_seen_ms, now_ms);
  ++st.envelopes;
  return created;
}

bool SourceTable::ObserveIfKnown(std::string_view source, uint64_t epoch, uint64_t seq,
                                 int64_t now_ms) {
  auto found = sources_.find(source);
  if (found == sources_.end() || !found->second.last_seq.contains(epoch)) return false;
  Observe(source, epoch, seq, now_ms);
  return true;
}

size_t SourceTable::ExpireIdle(int64_t now_ms, int64_t ttl_ms) {
  size_t removed = 0;
  for (auto it = sources_.begin(); it != sources_.end();) {
    SourceState& st = it->second;
    if (st.last_seen_ms == 0) st.last_seen_ms = now_ms;
    if (now_ms - st.last_seen_ms > ttl_ms) {
      it = sources_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

std::string SourceTable::Serialize(const std::vector<uint64_t>& covered_next_offsets) const {
  std::string body;
  io::AppendFixed32(&body, static_cast<uint32_t>(covered_next_offsets.size()));
  for (uint64_t o : covered_next_offsets) io::AppendFixed64(&body, o);
  io::AppendFixed32(&body, static_cast<uint32_t>(sources_.size()));
  for (const auto& [source, st] : sources_) {
    io::AppendFixed32(&body, static_cast<uint32_t>(source.size()));
    body += source;
    io::AppendFixed64(&body, static_cast<uint64_t>(st.last_seen_ms));
    io::AppendFixed32(&body, static_cast<uint32_t>(st.epoch_order.size()));
    for (uint64_t epoch : st.epoch_order) {  // oldest first, so Load restores the eviction order
      io::AppendFixed64(&body, epoch);
      io::AppendFixed64(&body, st.last_seq.at(epoch));
    }
  }
  std::string out;
  io::AppendFixed32(&out, kSnapshotMagic);
  io::AppendFixed32(&out, kSnapshotVersion);
  io::AppendFixed32(&out, io::Crc32c(body));
  out += body;
  return out;
}

Result<std::vector<uint64_t>> SourceTable::Load(std::string_view snapshot) {
  Reader r(snapshot);
  uint32_t magic = 0, version = 0, crc = 0;
  if (!r.U32(&magic) || magic != kSnapshotMagic)
    return Status::DataLoss("dedup snapshot: bad magic");
  if (!r.U32(&version) || version != kSnapshotVersion) {
    return Status::DataLoss("dedup snapshot: unknown version");
  }
  if (!r.U32(&crc) || crc != io::Crc32c(snapshot.substr(12))) {
    return Status::DataLoss("dedup snapshot: checksum mismatch");
  }
  auto truncated = [] { return Status::DataLoss("dedup snapshot: truncated"); };
  uint32_t partitions = 0;
  if (!r.U32(&partitions) || partitions > 4096) return truncated();
  std::vector<uint64_t> offsets(partitions);
  for (auto& o : offsets) {
    if (!r.U64(&o)) return truncated();
  }
  uint32_t count = 0;
  if (!r.U32(&count)) return truncated();
  Map loaded;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0, epochs = 0;
    std::string source;
    uint64_t seen = 0;
    if (!r.U32(&len) || !r.Bytes(len, &source) || !r.U64(&seen) || !r.U32(&epochs) ||
        epochs > kMaxEpochs) {
      return truncated();
    }
    SourceState st;
    st.last_seen_ms = static_cast<int64_t>(seen);
    for (uint32_t k = 0; k < epochs; ++k) {
      uint64_t epoch = 0, last = 0;
      if (!r.U64(&epoch) || !r.U64(&last)) return truncated();
      st.last_seq[epoch] = last;
      st.epoch_order.push_back(epoch);
      st.current_epoch = epoch;
    }
    loaded.emplace(std::move(source), std::move(st));
  }
  if (!r.empty()) return Status::DataLoss("dedup snapshot: trailing bytes");
  sources_ = std::move(loaded);
  return offsets;
}

Result<EnvelopeHeader> ParseEnvelopeHeader(std::string_view bytes) {
  // Fields may come in any order and repeat (a producer prepends the header to a stored body; the
  // last value wins, as in a full parse). The body is skipped without decoding.
  naming::EnvelopeWire w;
  if (!naming::ScanEnvelopeHeader(bytes, &w)) return Status::InvalidArgument("malformed envelope");
  if (!w.has_source || !w.has_seq) return Status::InvalidArgument("envelope without source or seq");
  return EnvelopeHeader{std::string(w.source), w.epoch, w.seq, w.body_field};
}

Result<EnvelopeHeader> ParseProducerHeader(std::string_view bytes) {
  naming::EnvelopeWire w;
  if (!naming::ScanEnvelopeHeader(bytes, &w)) return Status::InvalidArgument("malformed envelope");
  if (!w.has_source || !w.has_seq) return Status::InvalidArgument("envelope without source or seq");
  if (Status s = naming::ValidateSource(w.source); !s.ok()) return s;
  if (w.seq == 0) return Status::InvalidArgument("seq 0: must be >= 1 (seq starts at 1)");
  return EnvelopeHeader{std::string(w.source), w.epoch, w.seq, w.body_field};
}

}  // namespace hw::broker
