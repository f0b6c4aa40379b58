#include "logwatch/rule_set.h"

#include <hs/hs.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>

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
Mode Classify(const std::string& expr) {
  for (unsigned flags : {HS_FLAG_SINGLEMATCH, HS_FLAG_SINGLEMATCH | HS_FLAG_PREFILTER}) {
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

int OnHit(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
          unsigned int /*flags*/, void* ctx) {
  auto* hits = static_cast<std::vector<uint8_t>*>(ctx);
  (*hits)[id / 3] |= static_cast<uint8_t>(1u << (id % 3));
  return 0;
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
  set->always_.assign(n, 0);
  std::vector<std::string> exprs;
  std::vector<unsigned> flags, ids;
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
      const Mode mode = Classify(expr);
      if (mode == Mode::kNone) {
        set->always_[i] |= bit;
        ++set->unfiltered_;
      } else {
        exprs.push_back(std::move(expr));
        flags.push_back(HS_FLAG_SINGLEMATCH | (mode == Mode::kPrefilter ? HS_FLAG_PREFILTER : 0));
        ids.push_back(static_cast<unsigned>(i * 3 + (bit == kMatchHit   ? 0
                                                     : bit == kStartHit ? 1
                                                                        : 2)));
        if (bit == kMatchHit && mode == Mode::kExact) set->exact_[i] = true;
      }
      return re;
    };
    HW_ASSIGN_OR_RETURN(auto m, compile(r.match, kMatchHit));
    HW_ASSIGN_OR_RETURN(auto s, compile(r.multiline_start, kStartHit));
    HW_ASSIGN_OR_RETURN(auto x, compile(r.exclude, kExcludeHit));
    set->match_.push_back(std::move(m));
    set->start_.push_back(std::move(s));
    set->exclude_.push_back(std::move(x));
    // A hit is the final answer only when there is nothing left for RE2 to do.
    set->exact_[i] =
        set->exact_[i] && r.captures.empty() && r.exclude.empty() && r.multiline_start.empty();
  }
  if (!exprs.empty()) {
    std::vector<const char*> ptrs;
    for (const std::string& e : exprs) ptrs.push_back(e.c_str());
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                         HS_MODE_BLOCK, nullptr, &db, &err) == HS_SUCCESS) {
      set->db_.reset(db);
    } else {
      // Each pattern compiled alone, so this is a resource limit of the combination: correctness
      // does not need the prefilter, only speed does.
      hs_free_compile_error(err);
      for (size_t i = 0; i < ids.size(); ++i) {
        set->always_[ids[i] / 3] |= static_cast<uint8_t>(1u << (ids[i] % 3));
        set->exact_[ids[i] / 3] = false;
      }
      set->unfiltered_ += ids.size();
    }
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
  const auto& named = re.NamedCapturingGroups();
  for (const std::string& name : rules_[rule].captures) {
    auto it = named.find(name);
    const re2::StringPiece& p = sub[static_cast<size_t>(it->second)];
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
  if (rules_->db_) {
    hs_scratch_t* s = nullptr;
    if (hs_alloc_scratch(static_cast<hs_database_t*>(rules_->db_.get()), &s) == HS_SUCCESS) {
      scratch_.reset(s);
    }
  }
}

RuleSet::Scanner::~Scanner() = default;

const std::vector<uint8_t>& RuleSet::Scanner::Scan(std::string_view line) {
  std::memcpy(hits_.data(), rules_->always_.data(), hits_.size());
  if (!rules_->db_) return hits_;
  if (!scratch_) {
    // No scratch (allocation failed): every pattern is a candidate; RE2 decides.
    std::fill(hits_.begin(), hits_.end(), kMatchHit | kStartHit | kExcludeHit);
    return hits_;
  }
  hs_scan(static_cast<hs_database_t*>(rules_->db_.get()), line.data(),
          static_cast<unsigned>(line.size()), 0, static_cast<hs_scratch_t*>(scratch_.get()), OnHit,
          &hits_);
  return hits_;
}

}  // namespace hw::logwatch
