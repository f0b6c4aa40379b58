// The compiled rules: one Vectorscan (Hyperscan) database scans every line once for all rules, and
// RE2 runs only for the rules the scan says can match (to confirm and to extract captures).
//
// Each rule contributes up to three patterns to the database: its match, its multiline_start and
// its exclude. A pattern Vectorscan cannot take exactly is compiled in prefilter mode (it may then
// report lines the regex does not match, never miss one) and RE2 confirms; a pattern it cannot take
// at all is marked "always candidate", so RE2 runs on every line for that rule. RE2 named groups
// (?P<x>...) are rewritten to plain groups for Vectorscan, which has no named groups.
//
// Both engines see bytes (RE2 in Latin-1 mode): logs are not UTF-8, and a line with invalid UTF-8
// must match the same way in both.
//
// Threads: a RuleSet is immutable after Compile and may be shared; each thread scans with its own
// Scanner (Vectorscan scratch space is per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "logwatch/logwatch_config.h"

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
  // Index of the rule named name, or size() when there is none.
  size_t Find(std::string_view name) const;
  // Patterns the prefilter could not take at all (RE2 runs on every line for them).
  size_t unfiltered_patterns() const { return unfiltered_; }

  // Full regex checks on a record (a line, or a joined multiline record).
  // groups receives one view per named capture of the rule (empty when a group did not take part).
  bool Match(size_t rule, std::string_view text, std::vector<std::string_view>* groups) const;
  bool Excluded(size_t rule, std::string_view text) const;
  bool StartsRecord(size_t rule, std::string_view text) const;
  // True when a prefilter hit on the match pattern is already the exact answer (compiled exactly,
  // and no captures or exclude to evaluate), so RE2 need not run.
  bool HitIsExact(size_t rule) const { return exact_[rule]; }

  static constexpr uint8_t kMatchHit = 1, kStartHit = 2, kExcludeHit = 4;

  class Scanner {
   public:
    explicit Scanner(std::shared_ptr<const RuleSet> rules);
    ~Scanner();
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;
    // One pass over line: per rule, which of its patterns may match (kMatchHit | kStartHit |
    // kExcludeHit). The span is valid until the next Scan.
    const std::vector<uint8_t>& Scan(std::string_view line);
    const RuleSet& rules() const { return *rules_; }

   private:
    std::shared_ptr<const RuleSet> rules_;
    struct ScratchDeleter {
      void operator()(void* s) const;
    };
    std::unique_ptr<void, ScratchDeleter> scratch_;
    std::vector<uint8_t> hits_;
  };

 private:
  RuleSet() = default;
  struct Compiled;
  std::vector<RuleConfig> rules_;
  std::vector<std::unique_ptr<re2::RE2>> match_, exclude_, start_;
  std::vector<bool> exact_;
  std::vector<uint8_t> always_;  // per rule: bits that are always set (unfiltered patterns)
  size_t unfiltered_ = 0;
  struct DatabaseDeleter {
    void operator()(void* db) const;
  };
  std::unique_ptr<void, DatabaseDeleter> db_;  // null when nothing could be prefiltered
};

// (?P<name>...) and (?<name>...) become (...), leaving escapes and character classes alone.
std::string StripGroupNames(std::string_view pattern);

}  // namespace hw::logwatch
