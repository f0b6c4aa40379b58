#include "logwatch/rule_set.h"

#include <hs/hs.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <thread>

#include "logwatch/pattern_rewrite.h"

namespace hw::logwatch {
namespace {

std::unique_ptr<re2::RE2> CompileRe2(const std::string& pattern) {
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_log_errors(false);
  return std::make_unique<re2::RE2>(pattern, opts);
}

// How Vectorscan takes one pattern: the candidates in order, each tried when the one before failed
// to compile (RuleSet::Compile builds a whole database at once and, on an error, moves the pattern
// it names to its next candidate). Past the last, the pattern is a candidate on every line.
struct Form {
  Form(std::string e, unsigned f, bool x, std::shared_ptr<const TailMatcher> t = nullptr,
       std::string t_text = {})
      : expr(std::move(e)), flags(f), exact(x), tail(std::move(t)), tail_text(std::move(t_text)) {}
  std::string expr;
  unsigned flags = 0;
  bool exact = false;  // a hit is a match (else a candidate RE2 confirms)
  // expr is the head of the pattern (SplitAfterLiteral) and a hit counts only where this tail
  // matches from its end on.
  std::shared_ptr<const TailMatcher> tail;
  std::string tail_text;
};

// One database from every pattern's current form, compiled once; a pattern Vectorscan refuses is
// moved to its next form (or dropped: its bits go to *always) and the rest compiled again. An
// error that names no pattern (a resource limit) drops them all: correctness does not need the
// prefilter, only speed does.
//
// Patterns with the same forms (one regex in several rules that differ in name, severity or
// exclude: the same service, agent or process name in many rules) are compiled once, under the
// id of their group, and a hit marks every member (*groups: group g's ids are
// ids[start[g], start[g + 1])). At 1,000 generated rules a quarter of the patterns are such
// repeats; each costs compile time and scan time.
struct Entry {
  unsigned id;
  std::vector<Form> forms;
  size_t at = 0;
};
hs_database_t* CompileDatabase(std::vector<Entry>* entries, std::vector<uint8_t>* always,
                               size_t* dropped, RuleSet::IdGroups* groups) {
  auto drop = [&](const Entry& e) {
    (*always)[e.id / 3] |= static_cast<uint8_t>(1u << (e.id % 3));
    ++*dropped;
  };
  // Group by forms, in the order of first appearance.
  std::map<std::string, size_t> by_key;
  std::vector<std::vector<Entry*>> members;
  for (Entry& e : *entries) {
    std::string key;
    for (const Form& f : e.forms) {
      key += std::to_string(f.flags) + (f.exact ? "e" : "c") + std::to_string(f.expr.size()) + ":" +
             f.expr + std::to_string(f.tail_text.size()) + ":" + f.tail_text;
    }
    auto [it, fresh] = by_key.emplace(std::move(key), members.size());
    if (fresh) members.emplace_back();
    members[it->second].push_back(&e);
  }
  // Each member ends at its group's form (the first member stands for the group).
  auto settle = [&](size_t g) {
    for (Entry* m : members[g]) m->at = members[g][0]->at;
  };
  auto drop_group = [&](size_t g) {
    settle(g);
    for (const Entry* m : members[g]) drop(*m);
  };
  groups->start.assign(1, 0);
  groups->ids.clear();
  groups->tails.clear();
  std::vector<size_t> live;  // groups with a form to try
  for (size_t g = 0; g < members.size(); ++g) {
    if (members[g][0]->at < members[g][0]->forms.size()) {
      live.push_back(g);
    } else {
      drop_group(g);
    }
  }
  hs_database_t* db = nullptr;
  while (!live.empty()) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (const size_t g : live) {
      const Entry* e = members[g][0];
      exprs.push_back(e->forms[e->at].expr.c_str());
      flags.push_back(e->forms[e->at].flags);
      ids.push_back(static_cast<unsigned>(ids.size()));  // the group's index in `live`
    }
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) == HS_SUCCESS) {
      break;
    }
    const int bad = err->expression;
    hs_free_compile_error(err);
    if (bad < 0 || static_cast<size_t>(bad) >= live.size()) {
      for (const size_t g : live) {
        members[g][0]->at = members[g][0]->forms.size();
        drop_group(g);
      }
      live.clear();
      break;
    }
    Entry* e = members[live[static_cast<size_t>(bad)]][0];
    if (++e->at >= e->forms.size()) {
      drop_group(live[static_cast<size_t>(bad)]);
      live.erase(live.begin() + bad);
    }
  }
  if (db == nullptr) return nullptr;
  for (const size_t g : live) {
    settle(g);
    for (const Entry* m : members[g]) groups->ids.push_back(m->id);
    groups->start.push_back(static_cast<uint32_t>(groups->ids.size()));
    const Entry* e = members[g][0];
    groups->tails.push_back(e->forms[e->at].tail);
  }
  return db;
}

// For each pattern (the literals it requires: RequiredAtoms), its literals from the rarest on: the
// fewest patterns require (or contain) it, and the longer first among equals. A literal shared by
// many rules hands all of them to whatever confirms a hit, on every line that has it (" port ",
// "sshd[").
struct RankedAtom {
  std::string literal;
  size_t holders;  // patterns requiring it or a literal that contains it (its own included)
};
std::vector<std::vector<RankedAtom>> RankAtoms(const std::vector<std::vector<std::string>>& atoms) {
  std::map<std::string, size_t> holders;
  for (const auto& list : atoms) {
    for (const std::string& a : list) holders.emplace(a, 0);
  }
  for (auto& [a, count] : holders) {
    for (const auto& list : atoms) {
      count += std::any_of(list.begin(), list.end(), [&a = a](const std::string& b) {
        return b.find(a) != std::string::npos;
      });
    }
  }
  std::vector<std::vector<RankedAtom>> ranked(atoms.size());
  for (size_t k = 0; k < atoms.size(); ++k) {
    for (const std::string& a : atoms[k]) ranked[k].push_back({a, holders[a]});
    std::stable_sort(ranked[k].begin(), ranked[k].end(),
                     [](const RankedAtom& x, const RankedAtom& y) {
                       return x.holders != y.holders ? x.holders < y.holders
                                                     : x.literal.size() > y.literal.size();
                     });
  }
  return ranked;
}

// Where `d` matches text anchored at `at`: the end of its run of digits (npos: it does not).
size_t DigitsRunAt(const DigitsTail& d, std::string_view text, size_t at) {
  const size_t from = at + d.before.size();
  size_t to = from;
  while (to < text.size() && text[to] >= '0' && text[to] <= '9') ++to;
  if (to == from || text.compare(to, d.after.size(), d.after) != 0) return std::string_view::npos;
  if (d.at_end && to + d.after.size() != text.size()) return std::string_view::npos;
  return to;
}

// Whether `d` matches anywhere in text (a search, as RE2's unanchored Match).
bool DigitsRunIn(const DigitsTail& d, std::string_view text) {
  for (size_t at = text.find(d.before); at != std::string_view::npos;
       at = text.find(d.before, at + 1)) {
    if (DigitsRunAt(d, text, at) != std::string_view::npos) return true;
  }
  return false;
}

// The named captures (their RE2 group indices, -1: not in the pattern) out of RE2's submatches.
void TakeGroups(const std::vector<int>& indices, const std::vector<re2::StringPiece>& sub,
                std::vector<std::string_view>* groups) {
  groups->clear();
  for (int g : indices) {
    const re2::StringPiece p = g < 0 ? re2::StringPiece() : sub[static_cast<size_t>(g)];
    groups->emplace_back(p.data() == nullptr ? std::string_view()
                                             : std::string_view(p.data(), p.size()));
  }
}

}  // namespace

void RuleSet::DatabaseDeleter::operator()(void* db) const {
  hs_free_database(static_cast<hs_database_t*>(db));
}

RuleSet::~RuleSet() = default;

Result<std::shared_ptr<const RuleSet>> RuleSet::Compile(const std::vector<RuleConfig>& rules) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->rules_ = rules;
  set->traits_.reserve(rules.size());
  for (const RuleConfig& r : rules) {
    const bool captures = !r.captures.empty();
    set->traits_.push_back(static_cast<uint8_t>(
        (r.multiline_start.empty() ? 0 : kMultilineTrait) | (captures ? kCapturesTrait : 0) |
        (captures && (r.emit_event || r.emit_value) ? kUsesCapturesTrait : 0)));
  }
  const size_t n = rules.size();
  set->exact_.assign(n, false);
  set->chunk_exact_.assign(n, false);
  set->always_.assign(n, 0);
  set->chunk_always_.assign(n, 0);
  std::map<std::pair<std::string, std::vector<std::string>>, uint32_t> first_with;
  for (size_t i = 0; i < n; ++i) {
    set->twin_.push_back(
        first_with.try_emplace({rules[i].match, rules[i].captures}, static_cast<uint32_t>(i))
            .first->second);
  }
  set->has_twins_.assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (set->twin_[i] != i) set->has_twins_[set->twin_[i]] = true;
  }
  // Every pattern goes to both databases, each in the first form Vectorscan takes (Form):
  //   line:  the pattern, exact, else in prefilter mode (a candidate);
  //   chunk: the pattern bound to one line (LineBound) with its tail trimmed (TrimTail): exact, so
  //          RE2 runs only for captures, exclude and multiline; else its rarest required literal;
  //          else the pattern itself as a candidate, unless it anchors to the whole text.
  std::vector<Entry> line, chunk;
  std::vector<std::vector<std::string>> atoms;  // per chunk entry that may fall back to a literal
  std::vector<size_t> atom_entry;               // its index in `chunk` (and `line`)
  std::vector<bool> atom_in_line;               // the literal goes first in `line` as well
  std::vector<std::vector<std::string>> match_atoms(n);  // per rule: what its match requires
  std::vector<size_t> split_rule, split_entry;  // match patterns `line` takes whole, and where
  for (size_t i = 0; i < n; ++i) {
    const RuleConfig& r = rules[i];
    auto compile = [&](const std::string& pattern,
                       uint8_t bit) -> Result<std::unique_ptr<re2::RE2>> {
      if (pattern.empty()) return std::unique_ptr<re2::RE2>();
      std::unique_ptr<re2::RE2> re = CompileRe2(pattern);
      if (!re->ok()) {
        return Status::InvalidArgument("rule " + r.name + ": " + pattern + ": " + re->error());
      }
      // An exclude is for RE2 to check on a record that matched (rare): scanning for it is no use.
      if (bit == kExcludeHit) return re;
      const std::string expr = StripGroupNames(pattern);
      const std::string bound = LineBound(expr);
      const unsigned id = static_cast<unsigned>(i * 3 + (bit == kMatchHit ? 0 : 1));
      Entry l{id, {}, 0}, c{id, {}, 0};
      const std::string& line_expr = bound.empty() ? expr : bound;
      l.forms.push_back({line_expr, HS_FLAG_SINGLEMATCH, true});
      l.forms.push_back({line_expr, HS_FLAG_SINGLEMATCH | HS_FLAG_PREFILTER, false});
      // RE2 runs on every match of a rule whose captures are read: an exact hit saves it nothing,
      // and Vectorscan scans a literal for a fraction of what it takes for a `.*` pattern.
      const bool re2_anyway = bit == kMatchHit && set->UsesCaptures(i);
      if (!bound.empty()) {
        const std::string trimmed = TrimTail(bound);
        c.forms.push_back({trimmed, HS_FLAG_MULTILINE, true});
        c.forms.push_back({trimmed, HS_FLAG_MULTILINE | HS_FLAG_PREFILTER, false});
      } else if (expr.find("\\A") == std::string::npos && expr.find("\\z") == std::string::npos &&
                 expr.find("\\Z") == std::string::npos) {
        c.forms.push_back({expr, HS_FLAG_MULTILINE, false});
        c.forms.push_back({expr, HS_FLAG_MULTILINE | HS_FLAG_PREFILTER, false});
      }
      if (bit == kMatchHit) {
        match_atoms[i] = TopLevelLiterals(pattern);
        if (!bound.empty() && !re2_anyway) {
          split_rule.push_back(i);
          split_entry.push_back(line.size());
        }
      }
      if (bound.empty() || re2_anyway) {
        // The literal is put in front once the rarest is known (below).
        atoms.push_back(RequiredAtoms(pattern));
        atom_entry.push_back(chunk.size());
        atom_in_line.push_back(re2_anyway);
      }
      line.push_back(std::move(l));
      chunk.push_back(std::move(c));
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
    std::unique_ptr<re2::RE2> tail;
    GreedyTail split;
    std::vector<int> tail_groups;
    if (m && !groups.empty() && SplitGreedyTail(r.match, &split)) {
      tail = CompileRe2(split.tail);
      const auto& named = tail->NamedCapturingGroups();
      for (const std::string& name : r.captures) {
        auto it = named.find(name);
        tail_groups.push_back(it == named.end() ? -1 : it->second);
      }
      // Every capture the pattern has must be T's (A has no named group; a name in neither is
      // simply empty both ways).
      for (size_t k = 0; k < groups.size() && tail; ++k) {
        if ((groups[k] < 0) != (tail_groups[k] < 0)) tail.reset();
      }
      if (tail && !tail->ok()) tail.reset();
    }
    std::unique_ptr<re2::RE2> head;
    if (tail && !split.head.empty()) {
      head = CompileRe2(split.head);
      if (!head->ok()) tail.reset();
    }
    DigitsTail digits, head_digits;
    const bool by_hand =
        tail && ParseDigitsTail(split.tail, &digits) && digits.before == split.literal;
    const bool head_by_hand = tail && !split.head.empty() &&
                              ParseDigitsTail(split.head, &head_digits) &&
                              head_digits.name.empty() && !head_digits.at_end;
    set->digits_.push_back(by_hand ? std::optional<DigitsTail>(std::move(digits)) : std::nullopt);
    set->head_digits_.push_back(head_by_hand ? std::optional<DigitsTail>(std::move(head_digits))
                                             : std::nullopt);
    set->head_.push_back(tail ? std::move(head) : nullptr);
    set->tail_literal_.push_back(tail ? split.literal : std::string());
    set->tail_groups_.push_back(std::move(tail_groups));
    set->tail_.push_back(std::move(tail));
    set->capture_groups_.push_back(std::move(groups));
    set->match_.push_back(std::move(m));
    set->start_.push_back(std::move(s));
    set->exclude_.push_back(std::move(x));
  }
  const std::vector<std::vector<RankedAtom>> ranked = RankAtoms(atoms);
  for (size_t k = 0; k < atoms.size(); ++k) {
    const std::string best = ranked[k].empty() ? std::string() : ranked[k][0].literal;
    // For a pattern Vectorscan cannot bind to one line any literal beats RE2 on every line; in
    // front of one it can, a literal of under 4 bytes would narrow too little.
    if (best.size() >= (atom_in_line[k] ? 4u : 1u)) {
      auto& forms = chunk[atom_entry[k]].forms;
      forms.insert(forms.begin(),
                   {EscapeLiteral(best), HS_FLAG_MULTILINE | HS_FLAG_CASELESS, false});
      if (atom_in_line[k]) {
        auto& lforms = line[atom_entry[k]].forms;
        lforms.insert(lforms.begin(),
                      {EscapeLiteral(best), HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS, false});
      }
    }
  }
  // A match pattern both databases can take whole (bound to one line) is cut, in both, after the
  // rarest literal of its top level (among every rule's) that leaves a tail TailMatcher takes:
  // Vectorscan finds the head, the tail is checked where the head ends (tail_matcher.h: what this
  // saves, and why it is exact). A literal under 3 bytes, or one that more than kMaxHolders
  // patterns hold, would wake too many tails on the lines that have it ("failed password for " of
  // 71 rules that differ only inside a group): such a pattern stays whole.
  constexpr size_t kMaxHolders = 16;
  const std::vector<std::vector<RankedAtom>> ranked_match = RankAtoms(match_atoms);
  for (size_t k = 0; k < split_rule.size(); ++k) {
    const size_t i = split_rule[k];
    for (const RankedAtom& a : ranked_match[i]) {
      if (a.holders > kMaxHolders) break;
      HeadTail cut;
      if (a.literal.size() < 3 || !SplitAfterLiteral(rules[i].match, a.literal, &cut)) continue;
      std::optional<TailMatcher> tail = TailMatcher::Parse(cut.tail, cut.caseless);
      if (!tail) continue;
      std::string head = LineBound(StripGroupNames(cut.head));
      if (head.empty()) continue;
      auto shared = std::make_shared<const TailMatcher>(std::move(*tail));
      auto& cforms = chunk[split_entry[k]].forms;
      cforms.insert(cforms.begin(), Form{head, HS_FLAG_MULTILINE, true, shared, cut.tail});
      auto& forms = line[split_entry[k]].forms;
      forms.insert(forms.begin(), Form{std::move(head), 0, true, shared, cut.tail});
      break;
    }
  }
  // Each database is compiled once (a pattern Vectorscan refuses is the exception), the chunk's
  // on a thread of its own: they share nothing, and at 1,000 rules each takes a second or so.
  size_t chunk_dropped = 0;
  std::thread chunk_thread([&] {
    set->chunk_db_.reset(
        CompileDatabase(&chunk, &set->chunk_always_, &chunk_dropped, &set->chunk_groups_));
  });
  set->db_.reset(CompileDatabase(&line, &set->always_, &set->unfiltered_, &set->line_groups_));
  chunk_thread.join();
  // A hit answers whether the match pattern matches the line when its form is exact and the
  // rule does not join lines (a record is matched as a whole, by RE2); an exclude is checked by
  // RE2 on the record either way, and captures are RE2's work only when someone reads them
  // (RecordProcessor decides).
  for (size_t k = 0; k < line.size(); ++k) {
    const unsigned id = line[k].id;
    if (id % 3 != 0) continue;
    const RuleConfig& r = rules[id / 3];
    const bool re2_has_work = !r.multiline_start.empty();
    auto exact = [&](const Entry& e) {
      return !re2_has_work && e.at < e.forms.size() && e.forms[e.at].exact;
    };
    set->exact_[id / 3] = set->db_ != nullptr && exact(line[k]);
    const Entry& e = line[k];
    if (set->db_ != nullptr && e.at < e.forms.size() && e.forms[e.at].tail) ++set->split_;
    set->chunk_exact_[id / 3] = set->chunk_db_ != nullptr && exact(chunk[k]);
  }
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
  const re2::StringPiece whole(text.data(), text.size());
  thread_local std::vector<re2::StringPiece> sub;
  if (tail_[rule] && text.find('\n') == std::string_view::npos) {
    // A.*T (SplitGreedyTail): T at the rightmost place it matches, then A before that place (RE2
    // sees the whole text around both, so ^ $ \b mean what they mean in the whole pattern).
    // T by hand (ParseDigitsTail: its `before` is this literal) or by RE2, anchored at each place.
    const DigitsTail* digits = digits_[rule] ? &*digits_[rule] : nullptr;
    const re2::RE2& tail = *tail_[rule];
    const std::string& literal = tail_literal_[rule];
    const int total = digits != nullptr ? 0 : tail.NumberOfCapturingGroups();
    if (digits == nullptr) sub.assign(static_cast<size_t>(total) + 1, re2::StringPiece());
    for (size_t at = text.rfind(literal); at != std::string_view::npos;
         at = at == 0 ? std::string_view::npos : text.rfind(literal, at - 1)) {
      size_t run_end = 0;
      if (digits != nullptr) {
        run_end = DigitsRunAt(*digits, text, at);
        if (run_end == std::string_view::npos) continue;
      } else if (!tail.Match(whole, at, text.size(), re2::RE2::ANCHOR_START, sub.data(),
                             total + 1)) {
        continue;
      }
      if (!HeadBefore(rule, text, at)) return false;
      if (digits == nullptr) {
        TakeGroups(tail_groups_[rule], sub, groups);
        return true;
      }
      // T's one group is the run: every capture T has is it.
      const size_t from = at + literal.size();
      groups->assign(ngroups, std::string_view());
      for (size_t k = 0; k < ngroups; ++k) {
        if (tail_groups_[rule][k] >= 0) (*groups)[k] = text.substr(from, run_end - from);
      }
      return true;
    }
    return false;  // T matches nowhere
  }
  // Named groups only: unnamed groups in between are skipped by their index.
  const int total = re.NumberOfCapturingGroups();
  sub.assign(static_cast<size_t>(total) + 1, re2::StringPiece());
  if (!re.Match(whole, 0, text.size(), re2::RE2::UNANCHORED, sub.data(), total + 1)) {
    return false;
  }
  TakeGroups(capture_groups_[rule], sub, groups);
  return true;
}

bool RuleSet::HeadBefore(size_t rule, std::string_view text, size_t at) const {
  if (head_digits_[rule]) return DigitsRunIn(*head_digits_[rule], text.substr(0, at));
  return !head_[rule] || head_[rule]->Match(re2::StringPiece(text.data(), text.size()), 0, at,
                                            re2::RE2::UNANCHORED, nullptr, 0);
}

bool RuleSet::Excluded(size_t rule, std::string_view text) const {
  return exclude_[rule] &&
         re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *exclude_[rule]);
}

bool RuleSet::StartsRecord(size_t rule, std::string_view text) const {
  return start_[rule] &&
         re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *start_[rule]);
}

}  // namespace hw::logwatch
