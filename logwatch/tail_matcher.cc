#include "logwatch/tail_matcher.h"

#include <bitset>
#include <cctype>
#include <map>

namespace hw::logwatch {

namespace {

using ByteSet = std::bitset<256>;

// The parsed tail: a tree of byte classes, concatenations, alternations and repeats.
struct Node {
  enum Kind { kClass, kConcat, kAlt, kRepeat } kind = kConcat;
  ByteSet bytes;           // kClass
  std::vector<Node> kids;  // kConcat, kAlt: all; kRepeat: one
  int min = 0, max = 0;    // kRepeat; max < 0: unbounded
};

constexpr int kMaxRepeat = 64;  // more would not fit in 64 positions anyway

bool IsPrintable(char c) { return c >= 0x20 && c < 0x7f; }

ByteSet Range(int from, int to) {
  ByteSet s;
  for (int c = from; c <= to; ++c) s.set(static_cast<size_t>(c));
  return s;
}

// RE2's Perl classes (ASCII, also in Latin-1 mode).
ByteSet Digit() { return Range('0', '9'); }
ByteSet Space() {
  ByteSet s;
  for (const char c : {'\t', '\n', '\f', '\r', ' '}) s.set(static_cast<unsigned char>(c));
  return s;
}
ByteSet Word() { return Range('0', '9') | Range('A', 'Z') | Range('a', 'z') | Range('_', '_'); }

class Parser {
 public:
  Parser(std::string_view p, bool caseless) : p_(p), caseless_(caseless) {}

  // The whole tail; at_end receives whether it ended in `$`.
  bool ParseAll(Node* out, bool* at_end) {
    if (!ParseAlt(out, 0)) return false;
    if (i_ == p_.size()) {
      *at_end = at_end_;
      return true;
    }
    return false;
  }

 private:
  bool ParseAlt(Node* out, int depth) {
    Node alt;
    alt.kind = Node::kAlt;
    for (;;) {
      Node seq;
      if (!ParseSeq(&seq, depth)) return false;
      alt.kids.push_back(std::move(seq));
      if (i_ < p_.size() && p_[i_] == '|') {
        ++i_;
        continue;
      }
      break;
    }
    // A final `$` belongs to the last branch only: not a shape the matcher keeps.
    if (alt.kids.size() > 1 && depth == 0 && at_end_) return false;
    *out = alt.kids.size() == 1 ? std::move(alt.kids[0]) : std::move(alt);
    return true;
  }

  bool ParseSeq(Node* out, int depth) {
    out->kind = Node::kConcat;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      if (p_[i_] == '$') {
        // Only as the very last byte of the tail, outside any group.
        if (depth != 0 || i_ + 1 != p_.size()) return false;
        at_end_ = true;
        ++i_;
        return true;
      }
      Node atom;
      if (!ParseAtom(&atom, depth)) return false;
      if (!ParseQuantifier(&atom)) return false;
      out->kids.push_back(std::move(atom));
    }
    return true;
  }

  bool ParseQuantifier(Node* atom) {
    if (i_ >= p_.size()) return true;
    int min = 0, max = 0;
    const char c = p_[i_];
    if (c == '?' || c == '*' || c == '+') {
      min = c == '+' ? 1 : 0;
      max = c == '?' ? 1 : -1;
      ++i_;
    } else if (c == '{') {
      size_t j = i_ + 1;
      auto number = [&](int* v) {
        const size_t from = j;
        *v = 0;
        while (j < p_.size() && std::isdigit(static_cast<unsigned char>(p_[j])) && j - from < 4) {
          *v = *v * 10 + (p_[j] - '0');
          ++j;
        }
        return j > from;
      };
      if (!number(&min)) return false;  // RE2 reads `{x` as a literal: not this subset
      max = min;
      if (j < p_.size() && p_[j] == ',') {
        ++j;
        max = -1;
        if (j < p_.size() && p_[j] != '}' && !number(&max)) return false;
      }
      if (j >= p_.size() || p_[j] != '}') return false;
      if (min > kMaxRepeat || max > kMaxRepeat || (max >= 0 && max < min)) return false;
      i_ = j + 1;
    } else {
      return true;
    }
    if (i_ < p_.size() && p_[i_] == '?') ++i_;  // lazy: the same texts match
    if (i_ < p_.size() && (p_[i_] == '?' || p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '{')) {
      return false;
    }
    Node rep;
    rep.kind = Node::kRepeat;
    rep.min = min;
    rep.max = max;
    rep.kids.push_back(std::move(*atom));
    *atom = std::move(rep);
    return true;
  }

  bool ParseAtom(Node* out, int depth) {
    const char c = p_[i_];
    out->kind = Node::kClass;
    if (c == '(') {
      ++i_;
      if (p_.compare(i_, 2, "?:") == 0) {
        i_ += 2;
      } else if (p_.compare(i_, 3, "?P<") == 0 || p_.compare(i_, 2, "?<") == 0) {
        const size_t close = p_.find('>', i_);
        if (close == std::string_view::npos) return false;
        i_ = close + 1;
      } else if (i_ < p_.size() && p_[i_] == '?') {
        return false;  // flags
      }
      if (depth >= 32 || !ParseAlt(out, depth + 1)) return false;
      if (i_ >= p_.size() || p_[i_] != ')') return false;
      ++i_;
      return true;
    }
    if (c == '[') return ParseClass(out);
    if (c == '.') {
      ++i_;
      out->bytes.set();
      out->bytes.reset('\n');
      return true;
    }
    if (c == '\\') return ParseEscape(&out->bytes);
    if (c == '^' || c == '*' || c == '+' || c == '?' || c == '{' || c == ')' || !IsPrintable(c)) {
      return false;
    }
    ++i_;
    out->bytes = Fold(Byte(c));
    return true;
  }

  static ByteSet Byte(char c) {
    ByteSet s;
    s.set(static_cast<unsigned char>(c));
    return s;
  }

  ByteSet Fold(ByteSet s) const {
    if (!caseless_) return s;
    for (int c = 'a'; c <= 'z'; ++c) {
      if (s.test(static_cast<size_t>(c)) || s.test(static_cast<size_t>(c - 'a' + 'A'))) {
        s.set(static_cast<size_t>(c));
        s.set(static_cast<size_t>(c - 'a' + 'A'));
      }
    }
    return s;
  }

  // An escape at i_ ('\\'): a Perl class, a control character, or escaped punctuation.
  bool ParseEscape(ByteSet* out) {
    if (i_ + 1 >= p_.size()) return false;
    const char e = p_[i_ + 1];
    i_ += 2;
    switch (e) {
      case 'd':
        *out = Digit();
        return true;
      case 'D':
        *out = ~Digit();
        return true;
      case 's':
        *out = Space();
        return true;
      case 'S':
        *out = ~Space();
        return true;
      case 'w':
        *out = Word();
        return true;
      case 'W':
        *out = ~Word();
        return true;
      case 't':
        *out = Byte('\t');
        return true;
      case 'n':
        *out = Byte('\n');
        return true;
      case 'r':
        *out = Byte('\r');
        return true;
      case 'f':
        *out = Byte('\f');
        return true;
      default:
        break;
    }
    if (!IsPrintable(e) || std::isalnum(static_cast<unsigned char>(e))) return false;
    *out = Fold(Byte(e));
    return true;
  }

  // One member of a class at i_: an escape or a printable byte. *single is its byte when it is
  // one byte (it may then start or end a range), else -1.
  bool ParseMember(ByteSet* item, int* single) {
    if (p_[i_] == '\\') {
      if (!ParseEscape(item)) return false;
    } else {
      if (!IsPrintable(p_[i_])) return false;
      *item = Byte(p_[i_]);
      ++i_;
    }
    *single = -1;
    if (item->count() == 1) {
      for (int b = 0; b < 256; ++b) {
        if (item->test(static_cast<size_t>(b))) *single = b;
      }
    }
    return true;
  }

  bool ParseClass(Node* out) {
    ++i_;  // '['
    bool negate = false;
    if (i_ < p_.size() && p_[i_] == '^') {
      negate = true;
      ++i_;
    }
    ByteSet set;
    bool first = true;
    while (i_ < p_.size() && (p_[i_] != ']' || first)) {
      first = false;
      if (p_.compare(i_, 2, "[:") == 0) return false;  // POSIX classes
      ByteSet item;
      int lo = -1;  // a single byte that may start a range
      if (!ParseMember(&item, &lo)) return false;
      if (lo >= 0 && i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        ByteSet h;
        int hi = -1;
        if (!ParseMember(&h, &hi) || hi < lo) return false;
        item = Range(lo, hi);
      }
      set |= item;
    }
    if (i_ >= p_.size()) return false;
    ++i_;  // ']'
    // (?i) folds the class before it is negated, as RE2 does.
    set = Fold(set);
    out->kind = Node::kClass;
    out->bytes = negate ? ~set : set;
    return true;
  }

  std::string_view p_;
  bool caseless_;
  size_t i_ = 0;
  bool at_end_ = false;
};

}  // namespace

// Glushkov's construction: one position per byte class of the unrolled tree; follow_[p] holds
// the positions that may come right after p.
class TailBuilder {
 public:
  explicit TailBuilder(TailMatcher* m) : m_(m) {}

  struct Frag {
    uint64_t first = 0, last = 0;
    bool nullable = true;
  };

  bool Build(const Node& n, Frag* out) {
    switch (n.kind) {
      case Node::kClass: {
        if (m_->follow_.size() >= 64) return false;
        const size_t p = m_->follow_.size();
        m_->follow_.push_back(0);
        for (size_t b = 0; b < 256; ++b) {
          // No position takes a newline: T stops at the end of its line (on a line, which
          // holds none, that changes nothing).
          if (n.bytes.test(b) && b != '\n') m_->by_byte_[b] |= uint64_t{1} << p;
        }
        *out = {uint64_t{1} << p, uint64_t{1} << p, false};
        return true;
      }
      case Node::kConcat: {
        Frag acc;
        for (const Node& k : n.kids) {
          Frag f;
          if (!Build(k, &f)) return false;
          acc = Cat(acc, f);
        }
        *out = acc;
        return true;
      }
      case Node::kAlt: {
        Frag acc{0, 0, false};
        for (const Node& k : n.kids) {
          Frag f;
          if (!Build(k, &f)) return false;
          acc = {acc.first | f.first, acc.last | f.last, acc.nullable || f.nullable};
        }
        *out = acc;
        return true;
      }
      case Node::kRepeat: {
        const Node& x = n.kids[0];
        Frag acc;
        // X{m,}: m - 1 copies, then X+ (one copy that loops); X*: one optional copy that loops.
        // X{m,n}: m copies, then n - m optional ones.
        const int copies = n.max < 0 ? std::max(n.min - 1, 0) : n.min;
        for (int k = 0; k < copies; ++k) {
          Frag f;
          if (!Build(x, &f)) return false;
          acc = Cat(acc, f);
        }
        if (n.max < 0) {
          Frag f;
          if (!Build(x, &f)) return false;
          Loop(f);
          if (n.min == 0) f.nullable = true;
          acc = Cat(acc, f);
        } else {
          for (int k = n.min; k < n.max; ++k) {
            Frag f;
            if (!Build(x, &f)) return false;
            f.nullable = true;
            acc = Cat(acc, f);
          }
        }
        *out = acc;
        return true;
      }
    }
    return false;
  }

  Frag Cat(const Frag& a, const Frag& b) {
    for (uint64_t l = a.last; l != 0; l &= l - 1) m_->follow_[__builtin_ctzll(l)] |= b.first;
    return {a.first | (a.nullable ? b.first : 0), b.last | (b.nullable ? a.last : 0),
            a.nullable && b.nullable};
  }

  void Loop(const Frag& f) {
    for (uint64_t l = f.last; l != 0; l &= l - 1) m_->follow_[__builtin_ctzll(l)] |= f.first;
  }

 private:
  TailMatcher* m_;
};

std::optional<TailMatcher> TailMatcher::Parse(std::string_view tail, bool caseless) {
  Node root;
  bool at_end = false;
  Parser parser(tail, caseless);
  if (!parser.ParseAll(&root, &at_end)) return std::nullopt;
  TailMatcher m;
  TailBuilder builder(&m);
  TailBuilder::Frag f;
  if (!builder.Build(root, &f)) return std::nullopt;
  m.first_ = f.first;
  m.last_ = f.last;
  m.nullable_ = f.nullable;
  m.at_end_ = at_end;
  bool wide_loop = false;  // a position that follows itself, of a class of 128 bytes or more
  for (size_t p = 0; p < m.follow_.size(); ++p) {
    if ((m.follow_[p] >> p) & 1) {
      size_t bytes = 0;
      for (size_t b = 0; b < 256; ++b) bytes += (m.by_byte_[b] >> p) & 1;
      if (bytes >= 128) wide_loop = true;
    }
  }
  if (wide_loop && root.kind == Node::kConcat) {
    std::string run;
    for (size_t k = 0; k <= root.kids.size(); ++k) {
      const Node* n = k < root.kids.size() ? &root.kids[k] : nullptr;
      if (n != nullptr && n->kind == Node::kClass && n->bytes.count() == 1) {
        for (size_t b = 0; b < 256; ++b) {
          if (n->bytes.test(b)) run.push_back(static_cast<char>(b));
        }
        continue;
      }
      if (run.size() >= 3 && run.size() > m.must_.size()) m.must_ = run;
      run.clear();
    }
  }
  m.BuildDfa();
  return m;
}

void TailMatcher::BuildDfa() {
  // Byte classes: bytes with the same positions.
  std::map<uint64_t, uint8_t> class_of;
  std::vector<uint64_t> class_mask;
  for (size_t b = 0; b < 256; ++b) {
    auto [it, fresh] = class_of.emplace(by_byte_[b], static_cast<uint8_t>(class_mask.size()));
    if (fresh) class_mask.push_back(by_byte_[b]);
    dfa_class_[b] = it->second;
  }
  const size_t nclass = class_mask.size();
  // States: sets of positions reached after a byte; index 0 is the start (nothing read yet,
  // whose successors are first_'s), told apart by `start` below.
  std::vector<uint64_t> sets = {0};
  std::map<uint64_t, uint16_t> index;
  std::vector<uint16_t> next;
  std::vector<uint8_t> accept = {0};
  for (size_t k = 0; k < sets.size(); ++k) {
    uint64_t reach = 0;
    if (k == 0) {
      reach = first_;
    } else {
      for (uint64_t s = sets[k]; s != 0; s &= s - 1) reach |= follow_[__builtin_ctzll(s)];
    }
    for (size_t c = 0; c < nclass; ++c) {
      const uint64_t to = reach & class_mask[c];
      uint16_t id = kDead;
      if (to != 0) {
        auto [it, fresh] = index.emplace(to, static_cast<uint16_t>(sets.size()));
        if (fresh) {
          if (sets.size() >= kMaxDfa) return;  // too many: the word-of-states walk stays
          sets.push_back(to);
          accept.push_back((to & last_) != 0);
        }
        id = it->second;
      }
      next.push_back(id);
    }
  }
  dfa_classes_ = nclass;
  dfa_next_ = std::move(next);
  dfa_accept_ = std::move(accept);
}

bool TailMatcher::MatchesAt(std::string_view text, size_t at) const {
  if (at > text.size()) return false;
  if (nullable_ && (!at_end_ || LineEndsAt(text, at))) return true;
  if (!must_.empty()) {
    // Within the line (text may go on with more lines).
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    if (text.substr(at, end - at).find(must_) == std::string_view::npos) return false;
  }
  if (dfa_next_.empty()) return MatchesAtNfa(text, at);
  const uint16_t* next = dfa_next_.data();
  const size_t nclass = dfa_classes_;
  size_t state = 0;
  for (size_t i = at; i < text.size(); ++i) {
    const uint16_t to = next[state * nclass + dfa_class_[static_cast<unsigned char>(text[i])]];
    if (to == kDead) return false;
    state = to;
    if (dfa_accept_[state] && (!at_end_ || LineEndsAt(text, i + 1))) return true;
  }
  return false;
}

bool TailMatcher::MatchesAtNfa(std::string_view text, size_t at) const {
  if (at > text.size()) return false;
  if (nullable_ && (!at_end_ || LineEndsAt(text, at))) return true;
  uint64_t states = 0;
  for (size_t i = at; i < text.size(); ++i) {
    uint64_t next = 0;
    if (i == at) {
      next = first_;
    } else {
      for (uint64_t s = states; s != 0; s &= s - 1) next |= follow_[__builtin_ctzll(s)];
    }
    states = next & by_byte_[static_cast<unsigned char>(text[i])];
    if (states == 0) return false;
    if ((states & last_) != 0 && (!at_end_ || LineEndsAt(text, i + 1))) return true;
  }
  return false;
}

}  // namespace hw::logwatch
