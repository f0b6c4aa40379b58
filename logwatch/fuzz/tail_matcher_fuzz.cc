// libFuzzer target: TailMatcher against RE2. The input is a flags byte (bit 0: caseless), then a
// tail pattern up to the first NUL, then a text. Whenever TailMatcher takes the pattern and RE2
// does too (Latin-1, as RuleSet compiles rules), both ways of the matcher (the DFA and the word of
// positions) must give RE2's answer anchored at every place of the text's first line: RuleSet
// counts on that to call a hit exact.
#include <re2/re2.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "logwatch/tail_matcher.h"

namespace {

void Check(bool ok, const char* what, std::string_view pattern, std::string_view text, size_t at) {
  if (ok) return;
  fprintf(stderr, "invariant broken: %s: pattern [%.*s] text [%.*s] at %zu\n", what,
          static_cast<int>(pattern.size()), pattern.data(), static_cast<int>(text.size()),
          text.data(), at);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool caseless = (data[0] & 1) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t nul = rest.find('\0');
  if (nul == std::string_view::npos || nul > 256) return 0;
  const std::string pattern(rest.substr(0, nul));
  std::string_view text = rest.substr(nul + 1);
  text = text.substr(0, std::min<size_t>(text.find('\n'), 512));  // one line, as the scanner sees
  const auto m = hw::logwatch::TailMatcher::Parse(pattern, caseless);
  if (!m) return 0;
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_case_sensitive(!caseless);
  opts.set_log_errors(false);
  const RE2 re(pattern, opts);
  if (!re.ok()) return 0;  // a tail is cut from a pattern RE2 took: not this matcher's input
  for (size_t at = 0; at <= text.size(); ++at) {
    const bool want = re.Match(re2::StringPiece(text.data(), text.size()), at, text.size(),
                               RE2::ANCHOR_START, nullptr, 0);
    Check(m->MatchesAt(text, at) == want, "MatchesAt differs from RE2", pattern, text, at);
    Check(m->MatchesAtNfa(text, at) == want, "MatchesAtNfa differs from RE2", pattern, text, at);
  }
  return 0;
}
