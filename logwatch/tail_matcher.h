// A rule's pattern cut in two after the literal it is found by (SplitAfterLiteral,
// pattern_rewrite.h): Vectorscan searches for the head (the pattern up to and including that
// literal) and a TailMatcher checks the rest, anchored where a match of the head ends.
//
// Why: Vectorscan runs a pattern as literals and the engines between them. After the head's
// literal comes often a short, common literal (`"` in `"curl/[\d.]+"$`, `ms` in ` took \d+ms$`,
// `]: level=` shared by every service's rules), and each of its hits on a line runs the engines of
// every pattern that has it. At 1,000 generated rules such tails are most of the scan's cost;
// cut off, they are checked only where the head matched, in a few dozen instructions.
//
// Exactness: a text matches H T (a concatenation at the pattern's top level) exactly when some
// match of H ends at a place e and T matches text from e on (a prefix of it, or all of it when T
// ends in `$`). The head is compiled without HS_FLAG_SINGLEMATCH, so Vectorscan reports every end
// of a match of it; RuleSet checks T at each end until one passes.
//
// The matcher takes a subset of RE2's syntax, with RE2's meaning on a line of Latin-1 bytes:
// printable ASCII literals and escaped punctuation, `.`, \d \D \s \S \w \W, \t \n \r \f, classes
// with ranges and negation (of those), groups ((...), (?:...), (?P<name>...)), `|`, the
// quantifiers ? * + {n} {n,} {n,m} (lazy or greedy: whether T matches does not depend on it), a
// final `$`, and a whole-pattern (?i). Anything else (\b, ^, \A, \z, \x.., other flags, POSIX
// classes, bytes beyond ASCII, more than 64 positions once repeats are unrolled) is refused, and
// the pattern stays whole in Vectorscan. It is a Glushkov automaton (one 64-bit word of positions,
// one word of positions per byte value), made deterministic when that takes at most 128 states.
//
// Pure; immutable after Parse; thread-safe to share.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hw::logwatch {

class TailMatcher {
 public:
  // T as a matcher, or nullopt when it is outside the subset above. caseless: the pattern began
  // with (?i).
  static std::optional<TailMatcher> Parse(std::string_view tail, bool caseless);

  // Whether T matches text from `at` on (T is anchored there; it need not reach the end of the
  // line unless it ends in `$`). text may be a line or a buffer of lines: T never takes a
  // newline (on a line, which has none, that changes nothing) and `$` matches before one.
  bool MatchesAt(std::string_view text, size_t at) const;
  // The same answer from the word of states, without the DFA (what MatchesAt does when the DFA
  // would be too large; tests compare the two).
  bool MatchesAtNfa(std::string_view text, size_t at) const;
  bool deterministic() const { return !dfa_next_.empty(); }

 private:
  TailMatcher() = default;
  std::array<uint64_t, 256> by_byte_{};  // the positions whose class holds the byte
  std::vector<uint64_t> follow_;         // per position: the positions that may come next
  uint64_t first_ = 0;                   // the positions a match may start with
  uint64_t last_ = 0;                    // the positions a match may end with
  bool nullable_ = false;                // T matches the empty string
  bool at_end_ = false;                  // T ends in `$`
  // The longest run of plain bytes on T's top level (empty under 3 bytes), kept when T has a
  // repeat of a wide class (`.*`, `[^]]+`): a match from `at` contains it, and looking for it
  // first is cheaper than walking the line (`.*route=/x `).
  std::string must_;
  // The automaton made deterministic (subset construction) when that takes at most kMaxDfa
  // states: one table load a byte instead of a walk of the state word. Bytes the positions cannot
  // tell apart share a column (dfa_class_). State 0 is the start, kDead none.
  static constexpr uint16_t kDead = 0xffff;
  static constexpr size_t kMaxDfa = 128;
  std::array<uint8_t, 256> dfa_class_{};
  size_t dfa_classes_ = 0;
  std::vector<uint16_t> dfa_next_;   // [state * dfa_classes_ + class]
  std::vector<uint8_t> dfa_accept_;  // per state
  void BuildDfa();
  static bool LineEndsAt(std::string_view text, size_t i) {
    return i == text.size() || text[i] == '\n';
  }
  friend class TailBuilder;
};

}  // namespace hw::logwatch
