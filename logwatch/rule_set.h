// The compiled rules: one Vectorscan (Hyperscan) database scans every line once for all rules, and
// RE2 runs only for the rules the scan says can match (to confirm and to extract captures).
//
// Each rule contributes up to two patterns to the database: its match and its multiline_start (its
// exclude is for RE2 to check on a record that matched). A pattern Vectorscan cannot take exactly
// is compiled in prefilter mode (it may then report lines the regex does not match, never miss one)
// and RE2 confirms; a pattern it cannot take at all is marked "always candidate", so RE2 runs on
// every line for that rule. RE2 named groups
// (?P<x>...) are rewritten to plain groups for Vectorscan, which has no named groups.
//
// Both engines see bytes (RE2 in Latin-1 mode): logs are not UTF-8, and a line with invalid UTF-8
// must match the same way in both.
//
// Two databases hold the same patterns. The line database (single match per pattern) scans one
// line. The chunk database (HS_FLAG_MULTILINE, every match reported) scans a whole read buffer in
// one call, and each line then takes the hits that end inside it: a Vectorscan call costs ~70 ns
// before it reads a byte. In the chunk database a pattern is rewritten so that no match can
// cross a newline (LineBound in pattern_rewrite.h: '\n' taken out of its classes, which on a line
// changes nothing), so its hit is as exact as a line hit, and its final repeat is cut short
// (TrimTail: one report, not one per byte of a trailing \S+). A pattern that cannot be rewritten
// (\A, \z, \x..., (?s)) takes the literal it requires that the fewest other patterns require (a
// literal shared by many rules would hand RE2 all of them on every line that has it), and RE2
// confirms. Which way a chunk's lines are scanned is measured as it runs (Scanner::ScanMode).
//
// In both databases a match pattern Vectorscan could take whole is, where it can, cut after the
// rarest literal of its top level: Vectorscan gets the head and reports every end of its matches,
// and a TailMatcher checks the rest there (tail_matcher.h: why, and why it is exact). Its hit is
// then as exact as a whole pattern's (HitIsExact).
//
// Each database is compiled once, both at the same time on two threads; a pattern Vectorscan
// refuses is moved to its next form and the database compiled again without it. A pattern that
// several rules share (same forms) is compiled once and its hit marks them all (IdGroups).
//
// Threads: a RuleSet is immutable after Compile and may be shared; each thread scans with its own
// Scanner (Vectorscan scratch space is per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "logwatch/logwatch_config.h"
#include "logwatch/pattern_rewrite.h"
#include "logwatch/tail_matcher.h"

namespace re2 {
class RE2;
}

namespace hw::logwatch {

class RuleSet {
 public:
  // The rules were validated by the config loader; an error here means an engine failed for a
  // reason the loader could not see (out of memory), and names the rule.
  static Result<std::shared_ptr<const RuleSet>> Compile(const std::vector<RuleConfig>& rules);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  size_t size() const { return rules_.size(); }
  const RuleConfig& rule(size_t i) const { return rules_[i]; }
  // The rules as compiled (a reload of the same rules reuses the set: Engine::Reload).
  const std::vector<RuleConfig>& configs() const { return rules_; }
  // Index of the rule named name, or size() when there is none.
  size_t Find(std::string_view name) const;
  // Patterns the prefilter could not take at all (RE2 runs on every line for them).
  size_t unfiltered_patterns() const { return unfiltered_; }
  // Match patterns the line database holds as a head whose tail TailMatcher checks.
  size_t split_patterns() const { return split_; }

  // Full regex checks on a record (a line, or a joined multiline record).
  // groups receives one view per named capture of the rule (empty when a group did not take part).
  // For a pattern of the shape A.*T (SplitGreedyTail) on a line, RE2 runs T anchored at the last
  // places its literal starts (a one-pass match) and a DFA-only search for A before the place T
  // matched, instead of a search, a reverse search and a submatch pass over the line; a T of the
  // shape `literal (?P<x>\d+) literal` is read by hand there (ParseDigitsTail), not by RE2.
  bool Match(size_t rule, std::string_view text, std::vector<std::string_view>* groups) const;
  bool HasGreedyTail(size_t rule) const { return tail_[rule] != nullptr; }
  // ... and T is read without RE2 (ParseDigitsTail).
  bool HasDigitsTail(size_t rule) const { return digits_[rule].has_value(); }
  bool HasDigitsHead(size_t rule) const { return head_digits_[rule].has_value(); }
  bool Excluded(size_t rule, std::string_view text) const;
  bool StartsRecord(size_t rule, std::string_view text) const;
  // True when a line-scan hit on the match pattern is already the exact answer to whether the
  // pattern matches the line (compiled exactly, no multiline record to join), so RE2 need not run
  // it unless the captures are wanted (an exclude is still RE2's to check). Scanner::HitIsExact
  // also knows whether the last hits came from a chunk.
  bool HitIsExact(size_t rule) const { return exact_[rule]; }
  // The first rule whose match pattern and captures are the same as rule's (rule itself when
  // none comes before it): on one text both match alike with the same groups, so RE2 need run
  // once for them (RecordProcessor remembers it per line). Generated sets at 1,000 rules repeat a
  // third of their capture rules' patterns (one service's value rule, named twice).
  size_t MatchTwin(size_t rule) const { return twin_[rule]; }
  // Whether a later rule has rule as its twin.
  bool HasTwins(size_t rule) const { return has_twins_[rule]; }
  // The rule's records carry their captures to someone: an event, or a value to aggregate. A
  // count-only rule's captures are never read, so RE2 neither extracts them nor runs at all
  // where the prefilter's hit is exact.
  bool UsesCaptures(size_t rule) const { return traits_[rule] & kUsesCapturesTrait; }
  bool HasCaptures(size_t rule) const { return traits_[rule] & kCapturesTrait; }
  // The rule joins lines into records (it has a multiline_start).
  bool Multiline(size_t rule) const { return traits_[rule] & kMultilineTrait; }

  static constexpr uint8_t kMatchHit = 1, kStartHit = 2, kExcludeHit = 4;

  // A database's pattern ids: one per group of patterns compiled once (rule * 3 + pattern kind
  // of each member: group g's are ids[start[g], start[g + 1])).
  struct IdGroups {
    std::vector<uint32_t> start;
    std::vector<uint32_t> ids;
    // Per group: the tail its hits must pass, checked where the head's match ends (null: none).
    std::vector<std::shared_ptr<const TailMatcher>> tails;
  };

  class Scanner {
   public:
    explicit Scanner(std::shared_ptr<const RuleSet> rules);
    ~Scanner();
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;
    // One pass over line: per rule, which of its patterns may match (kMatchHit | kStartHit |
    // kExcludeHit). The span is valid until the next Scan.
    const std::vector<uint8_t>& Scan(std::string_view line);

    // One pass over a read buffer of whole and partial lines; HitsFor then answers for the lines
    // in it without scanning again. The buffer must stay unchanged until the next ScanChunk (an
    // empty chunk forgets it, and ends the chunk's timing: see ScanMode).
    void ScanChunk(std::string_view chunk);
    // How the lines of a chunk are scanned. kAuto measures: the first chunks alternate between
    // the two ways, timing each from its ScanChunk to the next (the scan, and RE2 on the hits it
    // gave, which is what differs), and later chunks take the faster per byte, trying the other
    // way now and then in case the log changed. A chunk whose hits would outgrow a bound
    // (a pattern hitting at almost every byte) is scanned line by line, and costs its way what
    // that took.
    enum class ScanMode { kAuto, kChunk, kLine };
    void set_scan_mode(ScanMode mode) { mode_ = mode; }
    // What Scan(line) would say, or a superset of it: from the chunk when line is one of its lines
    // (starts the chunk or follows a newline, and ends at a newline or the chunk's end), else from
    // Scan(line). The span is valid until the next Scan or HitsFor.
    const std::vector<uint8_t>& HitsFor(std::string_view line);
    // The rules whose entry in the hits last returned is not zero, each once, in no particular
    // order: a line's work then depends on the rules it may match, not on how many there are.
    const std::vector<uint32_t>& hit_rules() const { return hit_rules_; }
    // RuleSet::HitIsExact for the hits last returned.
    bool HitIsExact(size_t rule) const {
      return from_chunk_ ? rules_->chunk_exact_[rule] : rules_->exact_[rule];
    }
    // Chunks scanned whole, chunks scanned line by line, and lines answered from a chunk (for
    // tests and tuning).
    uint64_t chunks_by_line() const { return chunks_ - chunks_scanned_; }
    uint64_t chunks_scanned() const { return chunks_scanned_; }
    uint64_t lines_from_chunks() const { return lines_from_chunks_; }

    const RuleSet& rules() const { return *rules_; }

   private:
    struct ScratchDeleter {
      void operator()(void* s) const;
    };
    struct ChunkHit {
      uint32_t to;  // offset in the chunk just past the match
      uint32_t id;  // the pattern's group in the chunk database (IdGroups)
    };
    static int OnChunkHit(unsigned int id, unsigned long long from, unsigned long long to,
                          unsigned int flags, void* ctx);
    static int OnLineHit(unsigned int id, unsigned long long from, unsigned long long to,
                         unsigned int flags, void* ctx);
    // Clears the last hits (only the rules that had some) and sets the always-candidates.
    void ResetHits(const std::vector<uint8_t>& always, const std::vector<uint32_t>& always_rules);
    void Mark(uint32_t id) {
      uint8_t& h = hits_[id / 3];
      if (h == 0) hit_rules_.push_back(id / 3);
      h |= static_cast<uint8_t>(1u << (id % 3));
    }
    void MarkGroup(const IdGroups& g, uint32_t group) {
      for (uint32_t k = g.start[group]; k < g.start[group + 1]; ++k) Mark(g.ids[k]);
    }

    std::shared_ptr<const RuleSet> rules_;
    std::string_view line_;  // the line Scan is scanning (for the tails of split patterns)
    std::unique_ptr<void, ScratchDeleter> scratch_;  // sized for both databases
    std::vector<uint8_t> hits_;
    std::vector<uint32_t> hit_rules_;  // the rules with a non-zero entry in hits_
    std::string_view chunk_;           // empty: no chunk to answer from
    std::vector<ChunkHit> chunk_hits_;
    size_t chunk_cursor_ = 0;  // chunk_hits_ before it end at or before the last line asked for
    bool chunk_overflow_ = false;
    bool chunk_disabled_ = false;  // no scratch space for the chunk database
    bool from_chunk_ = false;
    // The measured choice (ScanMode): nanoseconds per byte of each way (0: chunk, 1: line), an
    // average of its last chunks, and how many chunks each has been timed on.
    ScanMode mode_ = ScanMode::kAuto;
    double ns_per_byte_[2] = {0, 0};
    uint64_t timed_[2] = {0, 0};
    int timing_ = -1;  // the way the open chunk takes; -1: none open
    size_t timing_bytes_ = 0;
    std::chrono::steady_clock::time_point timing_start_{};
    uint64_t chunks_ = 0;
    uint64_t chunks_scanned_ = 0, lines_from_chunks_ = 0;
  };

 private:
  // Whether A (of A.*T) matches somewhere in text before at; true when A is empty.
  bool HeadBefore(size_t rule, std::string_view text, size_t at) const;
  RuleSet() = default;
  struct Compiled;
  std::vector<RuleConfig> rules_;
  std::vector<std::unique_ptr<re2::RE2>> match_, exclude_, start_;
  std::vector<bool> exact_, chunk_exact_;
  // What the per-line loop asks of each rule, one byte a rule (a RuleConfig is hundreds of bytes:
  // at 1,000 rules reading its fields for every hit missed the cache).
  static constexpr uint8_t kMultilineTrait = 1, kCapturesTrait = 2, kUsesCapturesTrait = 4;
  std::vector<uint8_t> traits_;
  std::vector<uint32_t> twin_;  // MatchTwin
  std::vector<bool> has_twins_;
  std::vector<std::vector<int>> capture_groups_;  // per rule: RE2 group index of each capture
  // Per rule whose match is A.*T with every capture in T (else null): A (null when empty), T, its
  // leading literal, and T's group index of each capture.
  std::vector<std::unique_ptr<re2::RE2>> head_, tail_;
  std::vector<std::string> tail_literal_;
  std::vector<std::vector<int>> tail_groups_;
  // Per rule whose T, or A, is `literal (?P<x>\d+) literal` (ParseDigitsTail; A without the
  // group): read without RE2.
  std::vector<std::optional<DigitsTail>> digits_, head_digits_;
  std::vector<uint8_t> always_;        // per rule: bits that are always set (unfiltered patterns)
  std::vector<uint8_t> chunk_always_;  // the same for chunk scans (adds \A \z \Z patterns)
  std::vector<uint32_t> always_rules_, chunk_always_rules_;  // the rules with bits in those
  size_t unfiltered_ = 0;
  size_t split_ = 0;
  struct DatabaseDeleter {
    void operator()(void* db) const;
  };
  std::unique_ptr<void, DatabaseDeleter> db_;        // null when nothing could be prefiltered
  std::unique_ptr<void, DatabaseDeleter> chunk_db_;  // null: chunks are scanned line by line
  IdGroups line_groups_, chunk_groups_;              // the ids of db_'s and chunk_db_'s patterns
};

}  // namespace hw::logwatch
