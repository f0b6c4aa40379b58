// Rewrites of an RE2 pattern into the forms RuleSet hands Vectorscan: without named groups
// (Vectorscan has none), bound to one line for the chunk database, with its final repeat cut short,
// reduced to a literal the pattern requires, or cut in a head and a tail after one of its top-level
// literals (the tail then for TailMatcher). Pure string functions; RuleSet::Compile decides which
// form each pattern takes (rule_set.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hw::logwatch {

// (?P<name>...) and (?<name>...) become (...), leaving escapes and character classes alone.
std::string StripGroupNames(std::string_view pattern);
// pattern (without group names) such that no match can contain a newline and, on a text without
// one, the same texts match as RE2 matches with pattern; "" when pattern uses what this does not
// rewrite (\A, \z, \x.., (?s), POSIX classes, bytes beyond ASCII...).
std::string LineBound(std::string_view pattern);
// pattern with a final X+ or X{n,m} cut to X or X{n}: a text matches it exactly when it matches
// pattern, with fewer match ends (Vectorscan reports each).
std::string TrimTail(std::string_view pattern);
// Every string a match of pattern must contain (lowercase, compared caseless): RE2's FilteredRE2
// reduces a regex to an AND/OR tree of such strings ("atoms"); an atom is required when the filter
// fails with every other atom present. Only printable ASCII atoms are kept (beyond ASCII they
// come back in UTF-8 while the text is Latin-1 bytes).
std::vector<std::string> RequiredAtoms(const std::string& pattern);
// s as a Vectorscan pattern that matches s literally.
std::string EscapeLiteral(std::string_view s);

// A pattern A.*T split at its last greedy `.*` outside any group and class, so RE2 need not search
// a whole line with it. On a text without a newline (RE2, Latin-1: `.` is any other byte), the
// pattern matches exactly when T matches (anchored) somewhere and A matches inside the text before
// the rightmost such place; the greedy `.*` gives up as few bytes as it can, so the match's T part
// is T matched there, and T's groups are the pattern's. Found when the pattern has no top-level
// `|`, no flag group ((?i) and the like: they would reach into T) and no \Q, A no named group, and
// T starts with a literal (to find its places from the end): `head` is A, `tail` T, and
// `literal` the bytes every match of T starts with.
struct GreedyTail {
  std::string head;
  std::string tail;
  std::string literal;
};
bool SplitGreedyTail(std::string_view pattern, GreedyTail* out);

// The shape value rules most often have on either side of their `.*`:
// `<before>(?P<name>\d+)<after>` (the group may be left out: `svc\[\d+\]: `) with an optional final
// `$` (` took (?P<ms>\d+)ms`, `bytes=(?P<n>[0-9]+)`): literals around one run of digits, `before`
// not empty and `after` not starting with a digit. Anchored at a place, RE2 (Latin-1: \d is [0-9])
// matches it exactly when `before` is there, then at least one digit, and `after` right behind the
// longest run of digits (the greedy run could give a digit back only to an `after` that starts with
// one), ending the text if `at_end`; the group is that run (`name` is empty without a group). So
// RuleSet reads it without RE2. Literals are plain bytes and escaped punctuation; anything else is
// not this shape.
struct DigitsTail {
  std::string before, name, after;
  bool at_end = false;
};
bool ParseDigitsTail(std::string_view pattern, DigitsTail* out);

// pattern (named groups and all, as the rule has it) cut after `literal` (a lowercase string every
// match must contain: RequiredAtoms), at a place between two items of its top level: `head` ends
// with the first top-level run of plain literal bytes holding `literal`, and `tail` is the rest.
// False when the pattern has a top-level `|`, flags other than a leading (?i), no such run, or an
// empty rest. head keeps a leading (?i).
struct HeadTail {
  std::string head;
  std::string tail;
  bool caseless = false;
};
bool SplitAfterLiteral(std::string_view pattern, std::string_view literal, HeadTail* out);
// The runs of plain literal bytes on pattern's top level, lowercased (every match holds each): the
// places SplitAfterLiteral can cut. Empty where it cannot cut at all.
std::vector<std::string> TopLevelLiterals(std::string_view pattern);

}  // namespace hw::logwatch
