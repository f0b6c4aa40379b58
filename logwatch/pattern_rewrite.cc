#include "logwatch/pattern_rewrite.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace hw::logwatch {
namespace {

// Plain bytes and escaped punctuation from *i (to *out), up to the first operator, escaped letter
// or digit (\d, \b, \x41...), byte beyond ASCII, or the end; *i is left there, for the caller to
// decide whether that may come next. True when it stopped at a quantifier: the byte before it is
// then not required, and is left out of *out.
bool ReadLiteral(std::string_view p, size_t* i, std::string* out) {
  while (*i < p.size()) {
    const char c = p[*i];
    if (c == '\\') {
      if (*i + 1 >= p.size() || std::isalnum(static_cast<unsigned char>(p[*i + 1])) ||
          static_cast<unsigned char>(p[*i + 1]) >= 0x80) {
        return false;
      }
      out->push_back(p[*i + 1]);
      *i += 2;
    } else if (std::strchr("^$.|?*+()[]{}", c) != nullptr ||
               static_cast<unsigned char>(c) >= 0x80) {
      return false;
    } else {
      out->push_back(c);
      ++*i;
    }
    if (*i < p.size() && std::strchr("?*+{", p[*i]) != nullptr) {
      out->pop_back();
      return true;
    }
  }
  return false;
}

// The index of the ']' that closes the class opening at p[at] ('[': a ']' first, after an
// optional '^', is a member), or npos when it does not close or holds a POSIX class ([:alpha:]).
size_t ClassEnd(std::string_view p, size_t at) {
  size_t j = at + 1;
  if (j < p.size() && p[j] == '^') ++j;
  if (j < p.size() && p[j] == ']') ++j;
  for (; j < p.size() && p[j] != ']'; ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
      return std::string_view::npos;
    }
  }
  return j < p.size() ? j : std::string_view::npos;
}

// One item of a pattern's top level: [from, to) of the pattern, and its byte when it is a plain
// literal byte that no quantifier follows.
struct TopItem {
  size_t from, to;
  int byte;  // -1: not a plain literal
};

// The top-level items from p[start], or false (a top-level `|`, a flag group, brackets that do
// not close, a POSIX class).
bool TopItems(std::string_view p, size_t start, std::vector<TopItem>* out) {
  auto printable = [](char c) { return c >= 0x20 && c < 0x7f; };
  size_t i = start;
  while (i < p.size()) {
    const size_t from = i;
    int byte = -1;
    const char c = p[i];
    if (c == '|') return false;
    if (c == '\\') {
      if (i + 1 >= p.size()) return false;
      const char e = p[i + 1];
      if (printable(e) && !std::isalnum(static_cast<unsigned char>(e))) byte = e;
      i += 2;
    } else if (c == '[') {
      i = ClassEnd(p, i);
      if (i == std::string_view::npos) return false;
      ++i;
    } else if (c == '(') {
      if (p.compare(i, 2, "(?") == 0 && p.compare(i, 3, "(?:") != 0 &&
          p.compare(i, 3, "(?P") != 0 && p.compare(i, 3, "(?<") != 0) {
        return false;  // flags in the middle
      }
      int depth = 0;
      for (; i < p.size(); ++i) {
        if (p[i] == '\\') {
          ++i;
        } else if (p[i] == '[') {
          i = ClassEnd(p, i);
          if (i == std::string_view::npos) return false;
        } else if (p[i] == '(') {
          ++depth;
        } else if (p[i] == ')' && --depth == 0) {
          break;
        }
      }
      if (i >= p.size()) return false;
      ++i;
    } else {
      if (printable(c) && std::string_view(".^$*+?{}()").find(c) == std::string_view::npos) {
        byte = c;
      }
      ++i;
    }
    // A quantifier makes the item no plain literal (and belongs to it).
    if (i < p.size() && (p[i] == '?' || p[i] == '*' || p[i] == '+' || p[i] == '{')) {
      byte = -1;
      if (p[i] == '{') {
        const size_t close = p.find('}', i);
        if (close == std::string_view::npos) return false;
        i = close + 1;
      } else {
        ++i;
      }
      if (i < p.size() && p[i] == '?') ++i;
    }
    out->push_back({from, i, byte});
  }
  return true;
}

// The runs of plain literal items in items: [first, end) item indices, and their bytes lowercased.
struct LiteralRun {
  size_t first, end;
  std::string text;
};
std::vector<LiteralRun> LiteralRuns(const std::vector<TopItem>& items) {
  std::vector<LiteralRun> runs;
  for (size_t k = 0; k < items.size(); ++k) {
    if (items[k].byte < 0) continue;
    if (runs.empty() || runs.back().end != k) runs.push_back({k, k, ""});
    runs.back().text.push_back(static_cast<char>(std::tolower(items[k].byte)));
    runs.back().end = k + 1;
  }
  return runs;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool Escaped(std::string_view p, size_t at) {
  size_t n = 0;
  while (at > n && p[at - n - 1] == '\\') ++n;
  return n % 2 == 1;
}

// An (?flags) or (?flags:...) group at p[i] that turns on s (dot matches newline).
bool SetsDotAll(std::string_view p, size_t i) {
  if (!p.substr(i).starts_with("(?")) return false;
  for (size_t j = i + 2; j < p.size() && p[j] != ')' && p[j] != ':'; ++j) {
    if (p[j] == '-') return false;  // flags after '-' are turned off
    if (p[j] == 's') return true;
  }
  return false;
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

std::string LineBound(std::string_view p) {
  // On a line there is no '\n' to match, so taking '\n' out of every class that holds one changes
  // nothing there; in a chunk it keeps every match inside one line, which makes a chunk hit as
  // exact as a line hit. \s and \S are spelt out as RE2 means them (Vectorscan's also hold \v).
  std::string out;
  out.reserve(p.size() + 16);
  bool in_class = false, negated = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    // Bytes beyond ASCII: RE2 folds Latin-1 letters under (?i), Vectorscan only ASCII.
    if (c < 0x20 || c >= 0x7f) return "";
    if (c == '\\') {
      if (i + 1 >= p.size()) return "";
      const char e = p[++i];
      if (!std::isalnum(static_cast<unsigned char>(e))) {
        out.push_back('\\');
        out.push_back(e);
        continue;
      }
      switch (e) {
        case 'd':
        case 'w':
        case 't':
        case 'r':
        case 'f':
          out.push_back('\\');
          out.push_back(e);
          break;
        case 'b':
        case 'B':
          if (in_class) return "";
          out.push_back('\\');
          out.push_back(e);
          break;
        case 's':
          out += in_class ? "\\t\\f\\r\\x20" : "[\\t\\f\\r\\x20]";
          break;
        case 'S':
          if (in_class) return "";
          out += "[^\\t\\n\\f\\r\\x20]";
          break;
        case 'D':
          if (in_class) return "";
          out += "[^\\n0-9]";
          break;
        case 'W':
          if (in_class) return "";
          out += "[^\\n0-9A-Za-z_]";
          break;
        default:  // \A \z \n \x.. \p.. \Q..\E \C...: meant for more than one line, or unknown here
          return "";
      }
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') return "";  // [[:space:]] and the like
      if (c == ']') {
        if (negated) out += "\\n";
        in_class = false;
      }
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back('[');
      negated = i + 1 < p.size() && p[i + 1] == '^';
      if (negated) out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);  // "[]a]": a literal ']'
      continue;
    }
    if (c == '(' && SetsDotAll(p, i)) return "";
    out.push_back(static_cast<char>(c));
  }
  return in_class ? "" : out;
}

std::string TrimTail(std::string_view p) {
  // Whether a pattern matches does not depend on how far a final X+ or X{n,m} runs; cut to its
  // least, a chunk scan reports one hit where it reported one per extra byte (` from \S+`).
  size_t end = p.size();
  while (end > 0 && p[end - 1] == ')' && !Escaped(p, end - 1)) --end;
  size_t q = end;
  if (q >= 2 && p[q - 1] == '?' && !Escaped(p, q - 1)) --q;  // lazy
  if (q >= 2 && p[q - 1] == '+' && !Escaped(p, q - 1)) {
    return std::string(p.substr(0, q - 1)) + std::string(p.substr(end));
  }
  if (q >= 4 && p[q - 1] == '}' && !Escaped(p, q - 1)) {
    const size_t open = p.rfind('{', q - 1);
    if (open == std::string_view::npos || open == 0 || Escaped(p, open)) return std::string(p);
    const std::string_view body = p.substr(open + 1, q - 1 - open - 1);
    const size_t comma = body.find(',');
    if (comma == std::string_view::npos || comma == 0) return std::string(p);
    for (size_t k = 0; k < body.size(); ++k) {
      if (k != comma && !std::isdigit(static_cast<unsigned char>(body[k]))) return std::string(p);
    }
    return std::string(p.substr(0, open + 1)) + std::string(body.substr(0, comma)) + "}" +
           std::string(p.substr(end));
  }
  return std::string(p);
}

std::vector<std::string> RequiredAtoms(const std::string& pattern) {
  re2::FilteredRE2 filter(3);
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_log_errors(false);
  int id = 0;
  std::vector<std::string> required;
  if (filter.Add(pattern, opts, &id) != RE2::NoError) return required;
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  std::vector<int> others, passed;
  for (size_t i = 0; i < atoms.size(); ++i) {
    const std::string& a = atoms[i];
    if (!std::all_of(a.begin(), a.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) continue;
    others.clear();
    for (size_t j = 0; j < atoms.size(); ++j) {
      if (j != i) others.push_back(static_cast<int>(j));
    }
    filter.AllPotentials(others, &passed);
    if (passed.empty()) required.push_back(a);
  }
  return required;
}

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

bool SplitGreedyTail(std::string_view p, GreedyTail* out) {
  if (p.find("\\Q") != std::string_view::npos) return false;  // \Q...\E quotes operators
  size_t split = std::string_view::npos;
  int depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;  // the escaped byte, whatever it is
      continue;
    }
    if (c == '[') {
      i = ClassEnd(p, i);
      if (i == std::string_view::npos) return false;  // unclosed, or [:alpha:]
      continue;
    }
    if (c == '(') {
      if (i + 1 < p.size() && p[i + 1] == '?') {
        const std::string_view rest = p.substr(i + 2);
        if (!rest.starts_with(":") && !rest.starts_with("P<") && !rest.starts_with("<"))
          return false;  // a flag group
      }
      ++depth;
      continue;
    }
    if (c == ')') {
      --depth;
      continue;
    }
    if (c == '|' && depth == 0) return false;
    if (c == '.' && depth == 0 && i + 1 < p.size() && p[i + 1] == '*') {
      if (i + 2 < p.size() && p[i + 2] == '?') return false;  // lazy: the leftmost place, not this
      split = i;
      ++i;
    }
  }
  if (split == std::string_view::npos || depth != 0) return false;
  const std::string_view head = p.substr(0, split);
  if (head.find("(?P<") != std::string_view::npos || head.find("(?<") != std::string_view::npos)
    return false;
  const std::string_view tail = p.substr(split + 2);
  // The literal T starts with (a byte a quantifier follows is not required).
  std::string literal;
  size_t i = 0;
  ReadLiteral(tail, &i, &literal);
  if (literal.empty()) return false;
  out->head = std::string(head);
  out->tail = std::string(tail);
  out->literal = std::move(literal);
  return true;
}

bool ParseDigitsTail(std::string_view p, DigitsTail* out) {
  DigitsTail d;
  size_t i = 0;
  if (ReadLiteral(p, &i, &d.before) || d.before.empty()) return false;
  size_t name_at = 0;
  if (p.substr(i).starts_with("(?P<")) {
    name_at = i + 4;
  } else if (p.substr(i).starts_with("(?<")) {
    name_at = i + 3;
  }
  if (name_at != 0) {
    const size_t name_end = p.find('>', name_at);
    if (name_end == std::string_view::npos || name_end == name_at) return false;
    for (size_t k = name_at; k < name_end; ++k) {
      const unsigned char c = static_cast<unsigned char>(p[k]);
      if (!std::isalnum(c) && c != '_') return false;
    }
    d.name = std::string(p.substr(name_at, name_end - name_at));
    i = name_end + 1;
  }
  // The run, and the group's end when there is a group.
  const std::string_view close = name_at != 0 ? ")" : "";
  const std::string_view rest = p.substr(i);
  if (rest.starts_with("\\d+") && rest.substr(3).starts_with(close)) {
    i += 3 + close.size();
  } else if (rest.starts_with("[0-9]+") && rest.substr(6).starts_with(close)) {
    i += 6 + close.size();
  } else {
    return false;
  }
  if (ReadLiteral(p, &i, &d.after)) return false;
  if (i < p.size() && p[i] == '$' && i + 1 == p.size()) {
    d.at_end = true;
    ++i;
  }
  if (i != p.size()) return false;
  if (!d.after.empty() && d.after[0] >= '0' && d.after[0] <= '9') return false;
  *out = std::move(d);
  return true;
}

std::vector<std::string> TopLevelLiterals(std::string_view pattern) {
  std::vector<std::string> out;
  std::vector<TopItem> items;
  if (!TopItems(pattern, pattern.starts_with("(?i)") ? 4 : 0, &items)) return out;
  for (LiteralRun& run : LiteralRuns(items)) out.push_back(std::move(run.text));
  return out;
}

bool SplitAfterLiteral(std::string_view pattern, std::string_view literal, HeadTail* out) {
  if (literal.empty()) return false;
  out->caseless = pattern.starts_with("(?i)");
  std::vector<TopItem> items;
  if (!TopItems(pattern, out->caseless ? 4 : 0, &items)) return false;
  for (const LiteralRun& run : LiteralRuns(items)) {
    const size_t at = run.text.find(literal);
    if (at == std::string::npos) continue;
    const size_t cut = items[run.first + at + literal.size() - 1].to;
    if (cut >= pattern.size()) return false;
    out->head = std::string(pattern.substr(0, cut));
    out->tail = std::string(pattern.substr(cut));
    return true;
  }
  return false;
}

}  // namespace hw::logwatch
