// From lines to rule matches: every line is scanned once for all rules (RuleSet::Scanner), RE2
// confirms the candidates, `exclude` vetoes, and rules with `multiline_start` join continuation
// lines into one record before matching. A line visits only the rules the scan says it may match
// and the file's multiline rules (every line starts or extends their record), so its cost does not
// grow with rules it cannot match.
//
// Multiline state is per (file, rule) and lives in FileRecords, which the engine keeps per
// followed file (the tailer knows nothing of rules). A record is finished by the next start line,
// by FlushIdle (no new line for a while: the end of a stack trace; with idle zero, every record:
// the file is closed or truncated). Its offset is the offset of its first line, which is what the
// offsets file keeps for a pending record: after a restart the lines from there are replayed to
// that rule only (ReplayFilter), so other rules never see them twice.
//
// Threads: one thread per RecordProcessor (it owns a Scanner).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "logwatch/rule_set.h"

namespace hw::logwatch {

struct Record {
  size_t rule = 0;
  std::string_view path;  // the watched path (a rotated file keeps the name it was followed by)
  std::string_view text;  // the line, or the joined lines of a multiline record
  bool truncated = false;
  uint64_t offset = 0;                                    // of the (first) line in its file
  const std::vector<std::string_view>* groups = nullptr;  // one per named capture of the rule
};

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void OnRecord(const Record& record) = 0;
};

// The rules that apply to one file, and their multiline records in progress.
struct FileRecords {
  struct Pending {
    bool active = false;
    uint64_t offset = 0;
    std::string text;
    bool truncated = false;
    int64_t last_line_ms = 0;  // Clock::MonoMs() at its last line (the idle flush)
  };
  std::vector<size_t> rules;     // indexes into the RuleSet
  std::vector<uint8_t> applies;  // per RuleSet rule: 1 when in `rules`
  std::vector<uint32_t>
      position;  // per RuleSet rule: its index in `rules` (records keep that order)
  std::vector<size_t> multiline;  // the multiline rules of `rules`: every line is theirs
  std::vector<Pending> pending;   // per RuleSet rule (only multiline rules use theirs)
  // After a restart: lines before replay_until were processed already, except by the multiline
  // rules whose record started at replay_from[rule] (UINT64_MAX: not replaying).
  uint64_t replay_until = 0;
  std::vector<uint64_t> replay_from;
};

class RecordProcessor {
 public:
  // capture_all: extract every rule's captures (test-logrules shows them), not only those of the
  // rules that emit events or values (RuleSet::UsesCaptures). clock: when a multiline record saw
  // its last line (FlushIdle); null: the system's.
  RecordProcessor(std::shared_ptr<const RuleSet> rules, uint64_t max_record_bytes,
                  bool capture_all = false, const Clock* clock = nullptr);

  const RuleSet& rules() const { return scanner_.rules(); }
  // Sets up f for the named rules (unknown names are skipped: the config loader rejects them).
  void Attach(const std::vector<std::string>& rule_names, FileRecords* f) const;

  // A read buffer whose lines follow as OnLine calls (they are then prefiltered from one scan of
  // the whole buffer); an empty chunk ends it. Optional: a line outside a chunk is scanned alone.
  void OnChunk(std::string_view chunk) { scanner_.ScanChunk(chunk); }
  // Tests: how chunks are scanned (RuleSet::Scanner::ScanMode; measured by default).
  void set_scan_mode(RuleSet::Scanner::ScanMode mode) { scanner_.set_scan_mode(mode); }
  // One line (without its newline). truncated: the line was longer than max_line_bytes.
  void OnLine(std::string_view path, std::string_view line, uint64_t offset, bool truncated,
              FileRecords* f, RecordSink* sink);
  // Finishes multiline records that saw no line for idle by now_ms (the clock's MonoMs), or all
  // of them when idle is zero.
  void FlushIdle(std::string_view path, int64_t now_ms, std::chrono::milliseconds idle,
                 FileRecords* f, RecordSink* sink);

  uint64_t lines_matched() const { return lines_matched_; }

 private:
  // line_memo: text is the current line, and RE2's answer on it may be taken from (or left for)
  // the rule's twin (RuleSet::MatchTwin).
  bool Evaluate(size_t rule, std::string_view path, std::string_view text, uint64_t offset,
                bool truncated, bool prefilter_exact, bool line_memo, RecordSink* sink);
  void Finish(size_t rule, std::string_view path, FileRecords::Pending* p, RecordSink* sink);

  RuleSet::Scanner scanner_;
  uint64_t max_record_bytes_;
  bool capture_all_;
  const Clock& clock_;
  std::vector<std::string_view> groups_;
  std::vector<size_t> candidates_;  // this line's rules: the hit ones and the multiline ones
  // RE2's answers on the current line, per twin (RuleSet::MatchTwin) and whether groups were
  // extracted; cleared for each line. A handful at most: a linear search beats a map.
  struct Answer {
    uint32_t twin = 0;
    bool with_groups = false;
    bool matched = false;
    std::vector<std::string_view> groups;
  };
  std::vector<Answer> answers_;
  size_t answers_used_ = 0;  // answers_ beyond it are spare (their vectors keep their capacity)
  uint64_t lines_matched_ = 0;
};

}  // namespace hw::logwatch
