// RuleSet::Scanner: one thread's scans of lines and read buffers against a compiled RuleSet
// (rule_set.h), and the checks of split patterns' tails where their heads matched.
#include <hs/hs.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "logwatch/rule_set.h"

namespace hw::logwatch {

void RuleSet::Scanner::ScratchDeleter::operator()(void* s) const {
  hs_free_scratch(static_cast<hs_scratch_t*>(s));
}

RuleSet::Scanner::Scanner(std::shared_ptr<const RuleSet> rules) : rules_(std::move(rules)) {
  hits_.assign(rules_->size(), 0);
  // One scratch serves both databases: allocating for the second grows the first's.
  hs_scratch_t* s = nullptr;
  bool ok = true;
  for (void* db : {rules_->db_.get(), rules_->chunk_db_.get()}) {
    if (db != nullptr && hs_alloc_scratch(static_cast<hs_database_t*>(db), &s) != HS_SUCCESS) {
      ok = false;
    }
  }
  if (s != nullptr) scratch_.reset(s);
  if (!ok) chunk_disabled_ = true;  // keep what works for the line database
}

RuleSet::Scanner::~Scanner() = default;

void RuleSet::Scanner::ResetHits(const std::vector<uint8_t>& always,
                                 const std::vector<uint32_t>& always_rules) {
  for (const uint32_t r : hit_rules_) hits_[r] = 0;
  hit_rules_ = always_rules;
  for (const uint32_t r : always_rules) hits_[r] = always[r];
}

int RuleSet::Scanner::OnLineHit(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                                unsigned int /*flags*/, void* ctx) {
  auto* self = static_cast<Scanner*>(ctx);
  const IdGroups& g = self->rules_->line_groups_;
  if (const TailMatcher* tail = g.tails[id].get()) {
    // A head reports every end of its matches: once one end passed, the rest are no news.
    const uint32_t first = g.ids[g.start[id]];
    if ((self->hits_[first / 3] & (1u << (first % 3))) != 0) return 0;
    if (!tail->MatchesAt(self->line_, static_cast<size_t>(to))) return 0;
  }
  self->MarkGroup(g, id);
  return 0;
}

const std::vector<uint8_t>& RuleSet::Scanner::Scan(std::string_view line) {
  from_chunk_ = false;
  ResetHits(rules_->always_, rules_->always_rules_);
  if (!rules_->db_) return hits_;
  if (!scratch_) {
    // No scratch (allocation failed): every pattern is a candidate; RE2 decides.
    for (uint32_t r = 0; r < hits_.size(); ++r) {
      for (uint32_t kind = 0; kind < 3; ++kind) Mark(r * 3 + kind);
    }
    return hits_;
  }
  line_ = line;
  hs_scan(static_cast<hs_database_t*>(rules_->db_.get()), line.data(),
          static_cast<unsigned>(line.size()), 0, static_cast<hs_scratch_t*>(scratch_.get()),
          OnLineHit, this);
  return hits_;
}

int RuleSet::Scanner::OnChunkHit(unsigned int id, unsigned long long /*from*/,
                                 unsigned long long to, unsigned int /*flags*/, void* ctx) {
  auto* self = static_cast<Scanner*>(ctx);
  // A pattern that matches at almost every byte (\w ending a rule) would make the hit list as
  // long as the chunk: this chunk is scanned line by line instead of holding that.
  if (self->chunk_hits_.size() >= self->chunk_.size() / 8 + 1024) {
    self->chunk_overflow_ = true;
    return 1;  // stop the scan
  }
  if (const TailMatcher* tail = self->rules_->chunk_groups_.tails[id].get()) {
    // A head: its tail is checked on the rest of its line (it stops at a newline).
    if (!tail->MatchesAt(self->chunk_, static_cast<size_t>(to))) return 0;
  }
  self->chunk_hits_.push_back({static_cast<uint32_t>(to), id});
  return 0;
}

void RuleSet::Scanner::ScanChunk(std::string_view chunk) {
  using Clock = std::chrono::steady_clock;
  if (timing_ >= 0) {
    // The chunk before took this long, scanning and RE2 on its hits included.
    const double ns = static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - timing_start_).count());
    const double per_byte = ns / static_cast<double>(std::max<size_t>(timing_bytes_, 1));
    double& avg = ns_per_byte_[timing_];
    avg = timed_[timing_] == 0 ? per_byte : avg * 0.75 + per_byte * 0.25;
    ++timed_[timing_];
    timing_ = -1;
  }
  chunk_ = {};
  chunk_hits_.clear();
  chunk_cursor_ = 0;
  if (chunk.empty()) return;
  const bool can_chunk = !chunk_disabled_ && rules_->chunk_db_ && scratch_ &&
                         chunk.size() <= std::numeric_limits<uint32_t>::max();
  int way = 0;  // 0: the whole chunk, 1: line by line
  if (!can_chunk || mode_ == ScanMode::kLine) {
    way = 1;
  } else if (mode_ == ScanMode::kAuto) {
    constexpr uint64_t kTrials = 4;       // chunks timed each way before the choice
    constexpr uint64_t kRetryEvery = 64;  // then one chunk the other way in this many
    if (timed_[0] < kTrials || timed_[1] < kTrials) {
      way = timed_[0] <= timed_[1] ? 0 : 1;
    } else {
      way = ns_per_byte_[0] <= ns_per_byte_[1] ? 0 : 1;
      if (chunks_ % kRetryEvery == kRetryEvery - 1) way = 1 - way;
    }
  }
  ++chunks_;
  if (mode_ == ScanMode::kAuto && can_chunk) {
    timing_ = way;
    timing_bytes_ = chunk.size();
    timing_start_ = Clock::now();
  }
  if (way == 1) return;
  chunk_ = chunk;
  chunk_overflow_ = false;
  hs_scan(static_cast<hs_database_t*>(rules_->chunk_db_.get()), chunk.data(),
          static_cast<unsigned>(chunk.size()), 0, static_cast<hs_scratch_t*>(scratch_.get()),
          OnChunkHit, this);
  if (chunk_overflow_) {
    chunk_ = {};
    chunk_hits_.clear();
    return;
  }
  ++chunks_scanned_;
  // Vectorscan reports in end order in practice; HitsFor's cursor needs it, so make sure.
  auto by_end = [](const ChunkHit& a, const ChunkHit& b) { return a.to < b.to; };
  if (!std::is_sorted(chunk_hits_.begin(), chunk_hits_.end(), by_end)) {
    std::stable_sort(chunk_hits_.begin(), chunk_hits_.end(), by_end);
  }
}

const std::vector<uint8_t>& RuleSet::Scanner::HitsFor(std::string_view line) {
  const char* base = chunk_.data();
  if (chunk_.empty() || line.data() < base || line.data() + line.size() > base + chunk_.size()) {
    return Scan(line);
  }
  const size_t start = static_cast<size_t>(line.data() - base);
  const size_t end = start + line.size();
  // Only whole lines of the chunk: a line cut short or stripped of a prefix sees ^ and $ where
  // the chunk does not.
  if ((start > 0 && chunk_[start - 1] != '\n') || (end < chunk_.size() && chunk_[end] != '\n')) {
    return Scan(line);
  }
  from_chunk_ = true;
  ++lines_from_chunks_;
  ResetHits(rules_->chunk_always_, rules_->chunk_always_rules_);
  // Hits ending inside (start, end] are this line's (a match ends after its first byte).
  size_t i = chunk_cursor_;
  if (i > chunk_hits_.size() || (i > 0 && chunk_hits_[i - 1].to > start)) i = 0;
  while (i < chunk_hits_.size() && chunk_hits_[i].to <= start) ++i;
  for (; i < chunk_hits_.size() && chunk_hits_[i].to <= end; ++i) {
    MarkGroup(rules_->chunk_groups_, chunk_hits_[i].id);
  }
  chunk_cursor_ = i;
  return hits_;
}

}  // namespace hw::logwatch
