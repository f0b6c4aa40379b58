// Test fixtures for RuleSet and RecordProcessor (rule_set_test.cc, record_processor_test.cc):
// a rule from a name and a pattern, rule sets that probe where a chunk's answer could differ from
// a line's, and a generated set of every kind of rule bench/logwatch/gen_rules.py makes, with
// lines for them.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "logwatch/logwatch_config.h"

namespace hw::logwatch {

inline RuleConfig Rule(std::string name, std::string match,
                       std::vector<std::string> captures = {}) {
  RuleConfig r;
  r.name = std::move(name);
  r.match = std::move(match);
  r.captures = std::move(captures);
  return r;
}

// Rules meant to find where chunk answers could differ from line answers: anchors (^ $ \A \z),
// a required literal under (?i), classes that cross newlines, captures, a plain literal (exact in
// both modes), and a multiline start.
inline std::vector<RuleConfig> ChunkRules() {
  RuleConfig ml = Rule("ml", "Trace");
  ml.multiline_start = R"(^\d{4}-)";
  return {Rule("start", "^foo"),
          Rule("end", "bar$"),
          Rule("text_start", R"(\Afoo)"),
          Rule("text_end", R"(bar\z)"),
          Rule("caseless", R"((?i)failed PASSWORD for (?P<user>\S+))", {"user"}),
          Rule("paren", R"(\(([^)]+)\))"),
          Rule("literal", "level=error"),
          Rule("cap", R"(took (?P<ms>\d+)ms)", {"ms"}),
          Rule("no_literal", R"(^[a-z]+\s?\(?$)"),  // no string to require: the whole pattern
          Rule("text_start_class", R"(\A[fb]oo)"),  // the same, and anchored to the text
          ml};
}

// Lines from pieces that the rules above care about, joined by newlines.
inline std::vector<std::string> RandomLines(uint32_t seed, size_t n) {
  static const char* const kPieces[] = {"foo",     "bar",         "Failed password for ",
                                        "root",    "(",           ")",
                                        " ",       "level=error", "took 12ms",
                                        "took ms", "2024-",       "Trace",
                                        "x",       "\xff",        "LEVEL=ERROR"};
  uint32_t s = seed;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return s >> 8;
  };
  std::vector<std::string> lines(n);
  for (std::string& line : lines) {
    const uint32_t k = next() % 7;
    for (uint32_t i = 0; i < k; ++i) line += kPieces[next() % std::size(kPieces)];
  }
  return lines;
}

// Rules of every kind the benchmark generates (bench/logwatch/gen_rules.py), several of each with
// literals shared between them, and lines built from the same pieces with noise (\v, tabs, case):
// per-rule counts must be what RE2 alone says, whichever way the chunks are scanned.
inline std::vector<RuleConfig> GeneratedRules() {
  const std::vector<std::string> res = {"users-list", "users-item", "orders-list", "cart-sync"};
  const std::vector<std::string> svc = {"api", "apid", "worker", "cron-west"};
  const std::vector<std::string> user = {"root0", "root1", "admin", "git"};
  std::vector<RuleConfig> out;
  for (size_t v = 0; v < 4; ++v) {
    const std::string r = res[v], s = svc[v], u = user[v], n = std::to_string(v);
    const std::string h = "node0" + n;
    auto add = [&](std::string kind, std::string match, std::string exclude = "",
                   std::vector<std::string> captures = {}) {
      RuleConfig c = Rule(kind + n, std::move(match), std::move(captures));
      c.exclude = std::move(exclude);
      c.emit_event = false;
      c.emit_count = true;
      out.push_back(std::move(c));
    };
    add("literal", "GET /api/v1/" + r + "/");
    add("class", "/api/v1/" + r + R"(/\d+ HTTP/1\.[01]" 5\d\d )");
    add("alt", s + R"(\[\d+\]: level=(?:error|warn) )");
    add("caseless", "(?i)" + s + R"(\[\d+\]: LEVEL=ERROR )");
    add("anchor_start", R"(^Nov \d+ \d\d:\d\d:\d\d )" + h + R"( sshd\[\d+\]: Failed password)");
    add("anchor_end", "route=/" + r + R"( took \d{3,}ms$)");
    add("dotstar", s + R"(\[.*route=/)" + r + " ");
    add("capture",
        R"(Failed password for (?:invalid user )?(?P<user>)" + u + R"() from (?P<ip>\S+))", "",
        {"user", "ip"});
    add("value", s + R"(\[\d+\]: .* took (?P<ms>\d+)ms)", "", {"ms"});
    out.back().emit_value = true;
    add("no_literal", R"(^\d+\.\d+\.)" + n + R"(\.\d+ - - \[[^]]+\] "(?:POST|PUT) )");
    add("space", R"(kernel: \[\s*\d+\.\d+\] eth)" + n + R"(: link (?:up|down))");
    add("exclude", s + R"(\[\d+\]: level=error )", "route=/" + r + " ");
    add("caseless_end", R"re((?i)"curl/[\d.]+"$)re");
    add("text_anchor", R"(\A10\.0\.)" + n + R"(\.)");
    add("shared", R"( port \d+ ssh2)");
    add("word_tail", R"(sshd\[\d+\]: \w+)");
  }
  return out;
}

inline std::vector<std::string> GeneratedLines(uint32_t seed, size_t n) {
  uint32_t s = seed;
  auto next = [&s](uint32_t m) {
    s = s * 1664525u + 1013904223u;
    return (s >> 8) % m;
  };
  const std::vector<std::string> res = {"users-list", "users-item", "orders-list", "cart-sync",
                                        "x"};
  const std::vector<std::string> svc = {"api", "apid", "worker", "cron-west", "API"};
  const std::vector<std::string> user = {"root0", "root1", "admin", "git", "nobody"};
  std::vector<std::string> lines;
  for (size_t i = 0; i < n; ++i) {
    std::string l;
    switch (next(5)) {
      case 0:
        l = "10.0." + std::to_string(next(5)) + "." + std::to_string(next(9)) + " - - [21/Nov] \"" +
            (next(3) ? "GET" : "POST") + " /api/v1/" + res[next(5)] + "/" +
            std::to_string(next(99)) + " HTTP/1." + std::to_string(next(3)) + "\" " +
            (next(4) ? "200" : "503") + " 12 \"" + (next(2) ? "curl" : "Curl") + "/8." +
            std::to_string(next(9)) + "\"";
        break;
      case 1:
        l = "2026-11-21T10:00:00Z " + svc[next(5)] + "[" + std::to_string(next(9999)) +
            "]: " + (next(5) ? "level=" : "LEVEL=") +
            (next(3)   ? "error"
             : next(2) ? "warn"
                       : "info") +
            " route=/" + res[next(5)] + " took " + std::to_string(next(3000)) + "ms";
        break;
      case 2:
        l = "Nov 21 10:00:0" + std::to_string(next(10)) + " node0" + std::to_string(next(5)) +
            " sshd[" + std::to_string(next(99)) +
            "]: " + (next(2) ? "Failed password" : "Accepted") + " for " +
            (next(2) ? "invalid user " : "") + user[next(5)] + " from 1.2.3." +
            std::to_string(next(9)) + " port " + std::to_string(next(65535)) + " ssh2";
        break;
      case 3:
        l = "Nov 21 host kernel: [" + std::string(next(3), ' ') + std::to_string(next(999)) +
            ".5] eth" + std::to_string(next(5)) + ": link " + (next(2) ? "up" : "down");
        break;
      default:
        l = "noise";
        break;
    }
    // Noise: a vertical tab (a space to Vectorscan's \s, not to RE2's), a tab, a byte beyond ASCII.
    const uint32_t k = next(12);
    if (k == 0 && l.size() > 10) l[next(static_cast<uint32_t>(l.size()))] = '\v';
    if (k == 1 && l.size() > 10) l[next(static_cast<uint32_t>(l.size()))] = '\t';
    if (k == 2) l += "\xe9";
    lines.push_back(std::move(l));
  }
  return lines;
}

}  // namespace hw::logwatch
