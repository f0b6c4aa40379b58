#include "logwatch/rule_set.h"

#include <hs/hs.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

namespace hw::logwatch {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::unique_ptr<re2::RE2> CompileRe2(const std::string& pattern) {
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_log_errors(false);
  return std::make_unique<re2::RE2>(pattern, opts);
}

enum class Mode { kExact, kPrefilter, kNone };

// Single-pattern compiles decide, pattern by pattern, how Vectorscan can take it: one bad pattern
// in hs_compile_multi fails the whole database, so each is tried alone first.
Mode Classify(const std::string& expr, unsigned base_flags) {
  for (unsigned flags : {base_flags, base_flags | HS_FLAG_PREFILTER}) {
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile(expr.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &err) == HS_SUCCESS) {
      hs_free_database(db);
      return (flags & HS_FLAG_PREFILTER) ? Mode::kPrefilter : Mode::kExact;
    }
    hs_free_compile_error(err);
  }
  return Mode::kNone;
}

// \A, \z and \Z anchor to the whole text: in a chunk that is the chunk, not the line.
bool AnchorsToText(std::string_view p) {
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] != '\\') continue;
    if (p[i + 1] == 'A' || p[i + 1] == 'z' || p[i + 1] == 'Z') return true;
    ++i;  // an escaped character, perhaps a backslash
  }
  return false;
}

// A pattern of literal characters only (escaped punctuation allowed): its matches cannot span a
// newline, so a chunk hit is as exact as a line hit.
bool IsPlainLiteral(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '\\') {
      if (i + 1 >= p.size() || std::isalnum(static_cast<unsigned char>(p[i + 1]))) return false;
      ++i;
      continue;
    }
    if (std::strchr(".[]()*+?{}|^$", c) != nullptr || c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// The longest string every match of pattern must contain (compared caseless), or "" when there
// is none. RE2's FilteredRE2 reduces a regex to an AND/OR tree of such strings ("atoms"); an atom
// is required when the filter fails with every other atom present. A literal scans at a fraction
// of the cost of the whole pattern in Vectorscan, and RE2 confirms chunk hits anyway. Atoms come
// back lowercased, and beyond ASCII in UTF-8 (the text is Latin-1 bytes): only printable ASCII
// atoms are used.
std::string RequiredAtom(const std::string& pattern) {
  re2::FilteredRE2 filter(3);
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_log_errors(false);
  int id = 0;
  if (filter.Add(pattern, opts, &id) != RE2::NoError) return "";
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  std::string best;
  std::vector<int> others, passed;
  for (size_t i = 0; i < atoms.size(); ++i) {
    const std::string& a = atoms[i];
    if (a.size() <= best.size() ||
        !std::all_of(a.begin(), a.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
      continue;
    }
    others.clear();
    for (size_t j = 0; j < atoms.size(); ++j) {
      if (j != i) others.push_back(static_cast<int>(j));
    }
    filter.AllPotentials(others, &passed);
    if (passed.empty()) best = a;
  }
  return best;
}

// s as a Vectorscan pattern that matches s literally.
std::string EscapeLiteral(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
    }
  }
  return out;
}

hs_database_t* CompileMulti(const std::vector<std::string>& exprs,
                            const std::vector<unsigned>& flags, const std::vector<unsigned>& ids) {
  if (exprs.empty()) return nullptr;
  std::vector<const char*> ptrs;
  for (const std::string& e : exprs) ptrs.push_back(e.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return nullptr;
  }
  return db;
}

}  // namespace

std::string StripGroupNames(std::string_view p) {
  std::string out;
  out.reserve(p.size());
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out.append(p.substr(i, 2));
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // "[]a]" and "[^]a]": a ']' right after the opening is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
      continue;
    }
    if (c == '(' && p.substr(i).starts_with("(?P<")) {
      size_t j = i + 4;
      while (j < p.size() && IsNameChar(p[j])) ++j;
      if (j < p.size() && p[j] == '>') {
        out.push_back('(');
        i = j;
        continue;
      }
    }
    if (c == '(' && p.substr(i).starts_with("(?<") && i + 3 < p.size() && IsNameChar(p[i + 3])) {
      size_t j = i + 3;
      while (j < p.size() && IsNameChar(p[j])) ++j;
      if (j < p.size() && p[j] == '>') {
        out.push_back('(');
        i = j;
        continue;
      }
    }
    out.push_back(c);
  }
  return out;
}

void RuleSet::DatabaseDeleter::operator()(void* db) const {
  hs_free_database(static_cast<hs_database_t*>(db));
}
void RuleSet::Scanner::ScratchDeleter::operator()(void* s) const {
  hs_free_scratch(static_cast<hs_scratch_t*>(s));
}

RuleSet::~RuleSet() = default;

Result<std::shared_ptr<const RuleSet>> RuleSet::Compile(const std::vector<RuleConfig>& rules) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->rules_ = rules;
  const size_t n = rules.size();
  set->exact_.assign(n, false);
  set->chunk_exact_.assign(n, false);
  set->always_.assign(n, 0);
  set->chunk_always_.assign(n, 0);
  // The same patterns for both databases; a pattern either database cannot take is a candidate
  // on every line (RE2 decides).
  std::vector<std::string> exprs, chunk_exprs;
  std::vector<unsigned> flags, ids, chunk_flags, chunk_ids;
  for (size_t i = 0; i < n; ++i) {
    const RuleConfig& r = rules[i];
    auto compile = [&](const std::string& pattern,
                       uint8_t bit) -> Result<std::unique_ptr<re2::RE2>> {
      if (pattern.empty()) return std::unique_ptr<re2::RE2>();
      std::unique_ptr<re2::RE2> re = CompileRe2(pattern);
      if (!re->ok()) {
        return Status::InvalidArgument("rule " + r.name + ": " + pattern + ": " + re->error());
      }
      std::string expr = StripGroupNames(pattern);
      const unsigned id = static_cast<unsigned>(i * 3 + (bit == kMatchHit   ? 0
                                                         : bit == kStartHit ? 1
                                                                            : 2));
      const Mode mode = Classify(expr, HS_FLAG_SINGLEMATCH);
      if (mode == Mode::kNone) {
        set->always_[i] |= bit;
        ++set->unfiltered_;
      } else {
        exprs.push_back(expr);
        flags.push_back(HS_FLAG_SINGLEMATCH | (mode == Mode::kPrefilter ? HS_FLAG_PREFILTER : 0));
        ids.push_back(id);
        if (bit == kMatchHit && mode == Mode::kExact) set->exact_[i] = true;
      }
      // In chunks: a plain literal as it is (exact); else a literal the pattern requires (a
      // candidate); else the pattern itself, unless it anchors to the whole text.
      const std::string atom = IsPlainLiteral(pattern) ? std::string() : RequiredAtom(pattern);
      const Mode chunk_mode =
          !atom.empty() || AnchorsToText(expr) ? Mode::kNone : Classify(expr, HS_FLAG_MULTILINE);
      if (!atom.empty()) {
        chunk_exprs.push_back(EscapeLiteral(atom));
        chunk_flags.push_back(HS_FLAG_MULTILINE | HS_FLAG_CASELESS);
        chunk_ids.push_back(id);
      } else if (chunk_mode == Mode::kNone) {
        set->chunk_always_[i] |= bit;
      } else {
        chunk_exprs.push_back(std::move(expr));
        chunk_flags.push_back(HS_FLAG_MULTILINE |
                              (chunk_mode == Mode::kPrefilter ? HS_FLAG_PREFILTER : 0));
        chunk_ids.push_back(id);
        if (bit == kMatchHit && chunk_mode == Mode::kExact && IsPlainLiteral(pattern)) {
          set->chunk_exact_[i] = true;
        }
      }
      return re;
    };
    HW_ASSIGN_OR_RETURN(auto m, compile(r.match, kMatchHit));
    HW_ASSIGN_OR_RETURN(auto s, compile(r.multiline_start, kStartHit));
    HW_ASSIGN_OR_RETURN(auto x, compile(r.exclude, kExcludeHit));
    std::vector<int> groups;
    if (m) {
      const auto& named = m->NamedCapturingGroups();
      for (const std::string& name : r.captures) {
        auto it = named.find(name);
        groups.push_back(it == named.end() ? -1 : it->second);
      }
    }
    set->capture_groups_.push_back(std::move(groups));
    set->match_.push_back(std::move(m));
    set->start_.push_back(std::move(s));
    set->exclude_.push_back(std::move(x));
    // A hit answers whether the rule matches when no exclude or record joining is left for RE2
    // to do; captures are RE2's work only when someone reads them (RecordProcessor decides).
    const bool re2_has_work = !r.exclude.empty() || !r.multiline_start.empty();
    set->exact_[i] = set->exact_[i] && !re2_has_work;
    set->chunk_exact_[i] = set->chunk_exact_[i] && !re2_has_work;
  }
  set->db_.reset(CompileMulti(exprs, flags, ids));
  if (!exprs.empty() && !set->db_) {
    // Each pattern compiled alone, so this is a resource limit of the combination: correctness
    // does not need the prefilter, only speed does.
    for (size_t i = 0; i < ids.size(); ++i) {
      set->always_[ids[i] / 3] |= static_cast<uint8_t>(1u << (ids[i] % 3));
      set->exact_[ids[i] / 3] = false;
    }
    set->unfiltered_ += ids.size();
  }
  // Without a chunk database, chunks are answered line by line with the line database.
  set->chunk_db_.reset(CompileMulti(chunk_exprs, chunk_flags, chunk_ids));
  for (uint32_t i = 0; i < n; ++i) {
    if (set->always_[i] != 0) set->always_rules_.push_back(i);
    if (set->chunk_always_[i] != 0) set->chunk_always_rules_.push_back(i);
  }
  return std::shared_ptr<const RuleSet>(std::move(set));
}

size_t RuleSet::Find(std::string_view name) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].name == name) return i;
  }
  return rules_.size();
}

bool RuleSet::Match(size_t rule, std::string_view text,
                    std::vector<std::string_view>* groups) const {
  const re2::RE2& re = *match_[rule];
  const size_t ngroups = rules_[rule].captures.size();
  if (groups == nullptr || ngroups == 0) {
    if (groups != nullptr) groups->clear();
    return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                    re2::RE2::UNANCHORED, nullptr, 0);
  }
  // Named groups only: unnamed groups in between are skipped by their index.
  const int total = re.NumberOfCapturingGroups();
  thread_local std::vector<re2::StringPiece> sub;
  sub.assign(static_cast<size_t>(total) + 1, re2::StringPiece());
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::UNANCHORED,
                sub.data(), total + 1)) {
    return false;
  }
  groups->clear();
  for (int g : capture_groups_[rule]) {
    const re2::StringPiece p = g < 0 ? re2::StringPiece() : sub[static_cast<size_t>(g)];
    groups->emplace_back(p.data() == nullptr ? std::string_view()
                                             : std::string_view(p.data(), p.size()));
  }
  return true;
}

bool RuleSet::Excluded(size_t rule, std::string_view text) const {
  return exclude_[rule] &&
         re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *exclude_[rule]);
}

bool RuleSet::StartsRecord(size_t rule, std::string_view text) const {
  return start_[rule] &&
         re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *start_[rule]);
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

int RuleSet::Scanner::OnLineHit(unsigned int id, unsigned long long /*from*/,
                                unsigned long long /*to*/, unsigned int /*flags*/, void* ctx) {
  static_cast<Scanner*>(ctx)->Mark(id);
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
  hs_scan(static_cast<hs_database_t*>(rules_->db_.get()), line.data(),
          static_cast<unsigned>(line.size()), 0, static_cast<hs_scratch_t*>(scratch_.get()),
          OnLineHit, this);
  return hits_;
}

int RuleSet::Scanner::OnChunkHit(unsigned int id, unsigned long long /*from*/,
                                 unsigned long long to, unsigned int /*flags*/, void* ctx) {
  auto* self = static_cast<Scanner*>(ctx);
  // A pattern that matches at almost every byte (\S+ ending a rule) would make the hit list as
  // long as the chunk: give up on chunks for this scanner instead of holding that.
  if (self->chunk_hits_.size() >= self->chunk_.size() / 8 + 1024) {
    self->chunk_overflow_ = true;
    return 1;  // stop the scan
  }
  self->chunk_hits_.push_back({static_cast<uint32_t>(to), id});
  return 0;
}

void RuleSet::Scanner::ScanChunk(std::string_view chunk) {
  chunk_ = {};
  chunk_hits_.clear();
  chunk_cursor_ = 0;
  if (chunk.empty() || chunk_disabled_ || !rules_->chunk_db_ || !scratch_ ||
      chunk.size() > std::numeric_limits<uint32_t>::max()) {
    return;
  }
  chunk_ = chunk;
  chunk_overflow_ = false;
  hs_scan(static_cast<hs_database_t*>(rules_->chunk_db_.get()), chunk.data(),
          static_cast<unsigned>(chunk.size()), 0, static_cast<hs_scratch_t*>(scratch_.get()),
          OnChunkHit, this);
  if (chunk_overflow_) {
    chunk_disabled_ = true;
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
    Mark(chunk_hits_[i].id);
  }
  chunk_cursor_ = i;
  return hits_;
}

}  // namespace hw::logwatch
