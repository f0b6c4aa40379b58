#include "logwatch/record_processor.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace hw::logwatch {

RecordProcessor::RecordProcessor(std::shared_ptr<const RuleSet> rules, uint64_t max_record_bytes,
                                 bool capture_all, const Clock* clock)
    : scanner_(std::move(rules)),
      max_record_bytes_(max_record_bytes),
      capture_all_(capture_all),
      clock_(clock != nullptr ? *clock : RealClock()) {}

void RecordProcessor::Attach(const std::vector<std::string>& rule_names, FileRecords* f) const {
  const RuleSet& rs = scanner_.rules();
  f->rules.clear();
  f->applies.assign(rs.size(), 0);
  f->pending.assign(rs.size(), FileRecords::Pending());
  f->replay_from.assign(rs.size(), std::numeric_limits<uint64_t>::max());
  f->position.assign(rs.size(), std::numeric_limits<uint32_t>::max());
  f->multiline.clear();
  for (const std::string& name : rule_names) {
    const size_t i = rs.Find(name);
    if (i == rs.size() || f->applies[i]) continue;
    f->applies[i] = 1;
    f->position[i] = static_cast<uint32_t>(f->rules.size());
    f->rules.push_back(i);
    if (rs.Multiline(i)) f->multiline.push_back(i);
  }
}

bool RecordProcessor::Evaluate(size_t rule, std::string_view path, std::string_view text,
                               uint64_t offset, bool truncated, bool prefilter_exact,
                               bool line_memo, RecordSink* sink) {
  const RuleSet& rs = scanner_.rules();
  // Captures only for whom reads them: without, RE2 runs its DFA alone (no submatch engine), and
  // not at all when the prefilter's hit already answers.
  const bool want_groups = rs.UsesCaptures(rule) || (capture_all_ && rs.HasCaptures(rule));
  groups_.clear();
  const bool needs_re2 = want_groups || !prefilter_exact;
  if (needs_re2) {
    bool matched = false;
    const uint32_t twin = static_cast<uint32_t>(rs.MatchTwin(rule));
    const Answer* known = nullptr;
    if (line_memo) {
      for (size_t k = 0; k < answers_used_; ++k) {
        if (answers_[k].twin == twin && answers_[k].with_groups == want_groups)
          known = &answers_[k];
      }
    }
    if (known != nullptr) {
      matched = known->matched;
      groups_ = known->groups;
    } else {
      matched = rs.Match(rule, text, want_groups ? &groups_ : nullptr);
      // Only a rule with a twin after it can use the answer again.
      if (line_memo && rs.HasTwins(twin)) {
        if (answers_used_ == answers_.size()) answers_.emplace_back();
        Answer& a = answers_[answers_used_++];
        a.twin = twin;
        a.with_groups = want_groups;
        a.matched = matched;
        a.groups = groups_;
      }
    }
    if (!matched) return false;
  }
  if (rs.Excluded(rule, text)) return false;
  Record r;
  r.rule = rule;
  r.path = path;
  r.text = text;
  r.truncated = truncated;
  r.offset = offset;
  r.groups = &groups_;
  sink->OnRecord(r);
  return true;
}

void RecordProcessor::Finish(size_t rule, std::string_view path, FileRecords::Pending* p,
                             RecordSink* sink) {
  if (!p->active) return;
  if (Evaluate(rule, path, p->text, p->offset, p->truncated, false, false, sink)) ++lines_matched_;
  p->active = false;
  p->text.clear();
  p->truncated = false;
}

void RecordProcessor::OnLine(std::string_view path, std::string_view line, uint64_t offset,
                             bool truncated, FileRecords* f, RecordSink* sink) {
  const RuleSet& rs = scanner_.rules();
  const bool replaying = offset < f->replay_until;
  const std::vector<uint8_t>& hits = scanner_.HitsFor(line);
  candidates_.clear();
  answers_used_ = 0;
  if (!replaying) {
    for (const uint32_t rule : scanner_.hit_rules()) {
      if (f->applies[rule] && (hits[rule] & RuleSet::kMatchHit) && !rs.Multiline(rule)) {
        candidates_.push_back(rule);
      }
    }
  }
  candidates_.insert(candidates_.end(), f->multiline.begin(), f->multiline.end());
  if (candidates_.size() > 1) {
    // The file's rule order, as when every rule was visited (records of one line keep it).
    std::sort(candidates_.begin(), candidates_.end(),
              [f](size_t a, size_t b) { return f->position[a] < f->position[b]; });
  }
  bool matched = false;
  // Read the clock only for multiline rules (the idle flush needs it): per line it was ~5% of a
  // single-line workload's CPU.
  std::optional<int64_t> now;
  for (const size_t rule : candidates_) {
    const uint8_t h = hits[rule];
    if (!rs.Multiline(rule)) {
      if (Evaluate(rule, path, line, offset, truncated, scanner_.HitIsExact(rule), true, sink))
        matched = true;
      continue;
    }
    // A multiline rule matches whole records: a start line begins one, other lines extend it.
    if (replaying && offset < f->replay_from[rule]) continue;
    FileRecords::Pending& p = f->pending[rule];
    const bool starts = (h & RuleSet::kStartHit) && rs.StartsRecord(rule, line);
    if (starts || !p.active) {
      Finish(rule, path, &p, sink);
      p.active = true;
      p.offset = offset;
      p.text.assign(line.substr(0, max_record_bytes_));
      p.truncated = truncated || line.size() > max_record_bytes_;
    } else if (p.text.size() < max_record_bytes_) {
      p.text.push_back('\n');
      const size_t room = max_record_bytes_ - std::min<size_t>(p.text.size(), max_record_bytes_);
      p.text.append(line.substr(0, room));
      if (line.size() > room || truncated) p.truncated = true;
    } else {
      p.truncated = true;
    }
    if (!now) now = clock_.MonoMs();
    p.last_line_ms = *now;
  }
  if (matched) ++lines_matched_;
}

void RecordProcessor::FlushIdle(std::string_view path, int64_t now_ms,
                                std::chrono::milliseconds idle, FileRecords* f, RecordSink* sink) {
  for (size_t rule : f->rules) {
    FileRecords::Pending& p = f->pending[rule];
    if (p.active && (idle.count() == 0 || now_ms - p.last_line_ms >= idle.count()))
      Finish(rule, path, &p, sink);
  }
}

}  // namespace hw::logwatch
