#include "common/naming/naming.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/naming/naming_detail.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hw::naming {
// What naming_detail.h declares, and the character tables only this file uses.
namespace detail {

using hostwatch::v1::Alert;
using hostwatch::v1::AlertBatch;
using hostwatch::v1::Envelope;
using hostwatch::v1::EventBatch;
using hostwatch::v1::LogEvent;
using hostwatch::v1::Sample;
using hostwatch::v1::SampleBatch;

// Character classes: one table lookup per byte instead of a chain of comparisons, because this runs
// on every sample at the broker.

enum : uint8_t {
  kTagKeyChar = 1 << 0,     // A-Za-z0-9_
  kNameChar = 1 << 1,       // A-Za-z0-9_.-   metrics, endpoints, rule names
  kComponentChar = 1 << 2,  // a-z0-9_-
  kPlainChar = 1 << 3,      // printable ASCII: the usual tag value
};

constexpr std::array<uint8_t, 256> kCharClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    const bool digit = c >= '0' && c <= '9';
    uint8_t bits = 0;
    if (upper || lower || digit || c == '_') bits |= kTagKeyChar | kNameChar;
    if (c == '.' || c == '-') bits |= kNameChar;
    if (lower || digit || c == '_' || c == '-') bits |= kComponentChar;
    if (c >= 0x20 && c < 0x7F) bits |= kPlainChar;
    t[c] = bits;
  }
  return t;
}();

bool HasClass(char c, uint8_t cls) {
  return (kCharClass[static_cast<unsigned char>(c)] & cls) != 0;
}

// Whether every byte of v is in class cls. The validators run this first on every name of every
// sample (at the producer and at the broker) and word a problem only when it says no.
// An early exit on the first stranger: it also keeps compilers from "vectorizing" the table
// lookups into byte shuffles that cost more than the plain loop (seen with g++ 12 -O3).
bool AllOfScalar(std::string_view v, uint8_t cls) {
  for (char c : v) {
    if (!HasClass(c, cls)) return false;
  }
  return true;
}

#if defined(__SSE2__)
// 0xFF in every byte of x within [lo, hi]. Signed compares: bytes >= 0x80 are negative and so
// below every range used here (all ASCII).
__m128i InRange(__m128i x, char lo, char hi) {
  return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                       _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
}

// The 16 bytes at p are all in cls (kTagKeyChar, kNameChar or kPlainChar).
bool BlockOf(const char* p, uint8_t cls) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i ok;
  if (cls == kPlainChar) {
    ok = InRange(x, 0x20, 0x7E);
  } else {
    // x | 0x20 folds A-Z onto a-z and maps nothing else into a-z.
    ok =
        _mm_or_si128(InRange(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z'), InRange(x, '0', '9'));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
    if (cls == kNameChar) {
      ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('.')));
      ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
    }
  }
  return _mm_movemask_epi8(ok) == 0xFFFF;
}
#endif

// 16 bytes at a time where SSE2 is (every x86-64): name checks were the broker's largest cost per
// sample after the wire scan itself.
bool AllOf(std::string_view v, uint8_t cls) {
#if defined(__SSE2__)
  if (v.size() >= 16) {
    size_t i = 0;
    for (; i + 16 <= v.size(); i += 16) {
      if (!BlockOf(v.data() + i, cls)) return false;
    }
    // The rest as one more block that overlaps the last one: no byte past the end is read.
    return i == v.size() || BlockOf(v.data() + v.size() - 16, cls);
  }
#endif
  return AllOfScalar(v, cls);
}

// Showing values safely. An error message travels into logs, Ack.error and e-mails, so the
// offending value is shown with every byte outside printable ASCII escaped (UTF-8 too: a crafted
// value must not reorder or hide text with bidi controls) and cut, so that a 4 MiB name cannot
// make a 4 MiB log line.

constexpr size_t kShownBytes = 64;

void AppendHexByte(std::string& out, unsigned char b) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 0xF];
}

void AppendEscaped(std::string& out, char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b == '"' || b == '\\') {
    out += '\\';
    out += c;
  } else if (b >= 0x20 && b < 0x7F) {
    out += c;
  } else {
    AppendHexByte(out, b);
  }
}

std::string Quote(std::string_view v) {
  std::string out;
  out.reserve(std::min(v.size(), kShownBytes) + 24);
  out += '"';
  for (char c : v.substr(0, kShownBytes)) AppendEscaped(out, c);
  if (v.size() > kShownBytes) {
    out += "\xE2\x80\xA6(";  // U+2026 HORIZONTAL ELLIPSIS
    out += std::to_string(v.size());
    out += " bytes)";
  }
  out += '"';
  return out;
}

// 'c' for a printable character, \xNN for anything else.
std::string ShowChar(char c) {
  std::string out;
  const auto b = static_cast<unsigned char>(c);
  if (b >= 0x20 && b < 0x7F) {
    out += '\'';
    AppendEscaped(out, c);
    out += '\'';
  } else {
    AppendHexByte(out, b);
  }
  return out;
}

std::string ShowCodePoint(char32_t cp) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "U+";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
  return out;
}

std::string At(size_t i) { return " at byte " + std::to_string(i); }

// `<field> "<value>": <why>`, the one shape of every error of this module.
Status Invalid(std::string_view field, std::string_view value, std::string_view why) {
  std::string msg(field);
  msg += ' ';
  msg += Quote(value);
  msg += ": ";
  msg += why;
  return Status::InvalidArgument(std::move(msg));
}

// For numbers and enums: `<field> <value>: <why>`.
Status InvalidNumber(std::string_view field, std::string_view shown, std::string_view why) {
  std::string msg(field);
  msg += ' ';
  msg += shown;
  msg += ": ";
  msg += why;
  return Status::InvalidArgument(std::move(msg));
}

// Puts a parent's path in front of a nested error: "samples[3]." + "metric \"...\": ...".
Status Nest(std::string_view prefix, const Status& st) {
  std::string msg(prefix);
  msg += st.message();
  return Status::InvalidArgument(std::move(msg));
}

std::string Indexed(std::string_view field, int i) {
  return std::string(field) + "[" + std::to_string(i) + "].";
}

// UTF-8

struct Decoded {
  char32_t cp;
  size_t len;  // bytes consumed: the sequence, or when !ok its maximal ill-formed subpart (>= 1)
  bool ok;
};

// Well-formed sequences per Unicode Table 3-7. Narrowing the range of the second byte for E0, ED,
// F0 and F4 is what rejects overlongs, surrogates and code points past U+10FFFF without decoding
// first.
Decoded DecodeUtf8(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1, true};
  size_t trail;
  char32_t cp;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    trail = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    trail = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // below: overlong
    if (b0 == 0xED) hi = 0x9F;  // above: surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    trail = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // below: overlong
    if (b0 == 0xF4) hi = 0x8F;  // above: past U+10FFFF
  } else {
    // A lone continuation byte, C0/C1 (always overlong) or F5-FF (5- and 6-byte forms, past
    // U+10FFFF).
    return {0, 1, false};
  }
  for (size_t j = 1; j <= trail; ++j) {
    if (i + j >= s.size()) return {0, j, false};
    const auto b = static_cast<unsigned char>(s[i + j]);
    if (b < lo || b > hi) return {0, j, false};
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, trail + 1, true};
}

// Index of the first non-ASCII byte at or after i: most values are ASCII, checked 8 bytes at a
// time.
size_t SkipAscii(std::string_view s, size_t i) {
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  while (i + 8 <= s.size()) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, sizeof word);
    if ((word & kHighBits) != 0) break;
    i += 8;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

// Empty when s is valid UTF-8, otherwise where it is not.
std::string Utf8Problem(std::string_view s) {
  size_t i = 0;
  while ((i = SkipAscii(s, i)) < s.size()) {
    const Decoded d = DecodeUtf8(s, i);
    if (!d.ok) return "invalid UTF-8" + At(i);
    i += d.len;
  }
  return {};
}

// The checks return why a value is invalid, or an empty string when it is valid: they allocate only
// on failure, and their callers add the field and the quoted value.

std::string LengthProblem(std::string_view v, size_t max_bytes) {
  if (v.empty()) return "empty";
  if (v.size() > max_bytes) return "longer than " + std::to_string(max_bytes) + " bytes";
  return {};
}

std::string CharProblem(std::string_view v, uint8_t cls, std::string_view allowed) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!HasClass(v[i], cls)) {
      return "invalid character " + ShowChar(v[i]) + At(i) + " (allowed: " + std::string(allowed) +
             ")";
    }
  }
  return {};
}

std::string NameCharProblem(std::string_view v) {
  return CharProblem(v, kNameChar, "A-Za-z0-9_.-");
}

std::string MetricProblem(std::string_view name) {
  if (internal::FastMetric(name)) return {};
  if (auto why = LengthProblem(name, kMaxMetricBytes); !why.empty()) return why;
  char prev = '.';  // so that a leading dot counts as an empty first segment
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!HasClass(c, kNameChar)) {
      return "invalid character " + ShowChar(c) + At(i) + " (allowed: A-Za-z0-9_.-)";
    }
    if (c == '.' && prev == '.') return "empty segment" + At(i);
    prev = c;
  }
  if (prev == '.') return "empty segment at the end";
  return {};
}

std::string TagKeyProblem(std::string_view key) {
  if (internal::FastTagKey(key)) return {};
  if (auto why = LengthProblem(key, kMaxTagKeyBytes); !why.empty()) return why;
  return CharProblem(key, kTagKeyChar, "A-Za-z0-9_");
}

std::string TagValueProblem(std::string_view value) {
  if (internal::FastTagValue(value)) return {};
  if (auto why = LengthProblem(value, kMaxTagValueBytes); !why.empty()) return why;
  size_t i = 0;
  while (i < value.size()) {
    const auto b = static_cast<unsigned char>(value[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == 0x7F) return "control character " + ShowChar(value[i]) + At(i);
      ++i;
      continue;
    }
    const Decoded d = DecodeUtf8(value, i);
    if (!d.ok) return "invalid UTF-8" + At(i);
    if (d.cp >= 0x80 && d.cp <= 0x9F) return "control character " + ShowCodePoint(d.cp) + At(i);
    i += d.len;
  }
  return {};
}

std::string EndpointProblem(std::string_view endpoint) {
  if (auto why = LengthProblem(endpoint, kMaxEndpointBytes); !why.empty()) return why;
  if (auto why = CharProblem(endpoint, kNameChar, "A-Za-z0-9_.-"); !why.empty()) return why;
  if (endpoint == "." || endpoint == "..") return "reserved: not a host name";
  return {};
}

std::string ComponentProblem(std::string_view component) {
  if (auto why = LengthProblem(component, kMaxComponentBytes); !why.empty()) return why;
  return CharProblem(component, kComponentChar, "a-z0-9_-");
}

}  // namespace detail

using namespace detail;

namespace internal {

bool FastMetric(std::string_view v) {
  if (v.empty() || v.size() > kMaxMetricBytes || !AllOf(v, kNameChar)) return false;
  // Segments must not be empty: no leading, trailing or doubled dot.
  return v.front() != '.' && v.back() != '.' && v.find("..") == std::string_view::npos;
}

bool FastTagKey(std::string_view v) {
  return !v.empty() && v.size() <= kMaxTagKeyBytes && AllOf(v, kTagKeyChar);
}

bool FastTagValue(std::string_view v) {
  return !v.empty() && v.size() <= kMaxTagValueBytes && AllOf(v, kPlainChar);
}

}  // namespace internal

bool IsValidMetric(std::string_view name) {
  return internal::FastMetric(name) || MetricProblem(name).empty();
}
bool IsValidTagKey(std::string_view key) {
  return internal::FastTagKey(key) || TagKeyProblem(key).empty();
}
bool IsValidTagValue(std::string_view value) {
  return internal::FastTagValue(value) || TagValueProblem(value).empty();
}

Status ValidateMetric(std::string_view name) {
  if (auto why = MetricProblem(name); !why.empty()) return Invalid("metric", name, why);
  return Status::Ok();
}

Status ValidateTagKey(std::string_view key) {
  if (auto why = TagKeyProblem(key); !why.empty()) return Invalid("tag key", key, why);
  return Status::Ok();
}

Status ValidateTagValue(std::string_view value) {
  if (auto why = TagValueProblem(value); !why.empty()) return Invalid("tag value", value, why);
  return Status::Ok();
}

Status ValidateEndpoint(std::string_view endpoint) {
  if (auto why = EndpointProblem(endpoint); !why.empty()) return Invalid("endpoint", endpoint, why);
  return Status::Ok();
}

bool IsSafeName(std::string_view name, size_t max_bytes) {
  if (name.empty() || name.size() > max_bytes || name == "." || name == "..") return false;
  for (char c : name) {
    if (!HasClass(c, kNameChar)) return false;
  }
  return true;
}

std::string LocalEndpoint(std::string_view fallback) {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return std::string(fallback);
  std::string h(buf);
  if (h.size() > kMaxEndpointBytes) h.resize(kMaxEndpointBytes);
  for (char& c : h) {
    if (!HasClass(c, kNameChar)) c = '_';
  }
  return IsSafeName(h, kMaxEndpointBytes) ? h : std::string(fallback);
}

std::string_view SourceEndpoint(std::string_view source) {
  const size_t slash = source.find('/');
  return slash == std::string_view::npos ? std::string_view() : source.substr(0, slash);
}

Status ValidateSource(std::string_view source) {
  const size_t slash = source.find('/');
  if (slash == std::string_view::npos) {
    return Invalid("source", source, "no '/' (expected <endpoint>/<component>)");
  }
  const std::string_view endpoint = source.substr(0, slash);
  const std::string_view component = source.substr(slash + 1);
  if (auto why = EndpointProblem(endpoint); !why.empty()) {
    return Invalid("source", source, "endpoint " + Quote(endpoint) + ": " + why);
  }
  if (auto why = ComponentProblem(component); !why.empty()) {
    return Invalid("source", source, "component " + Quote(component) + ": " + why);
  }
  return Status::Ok();
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while ((i = SkipAscii(s, i)) < s.size()) {
    const Decoded d = DecodeUtf8(s, i);
    if (!d.ok) return false;
    i += d.len;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    const size_t ascii_end = SkipAscii(s, i);
    out.append(s, i, ascii_end - i);
    i = ascii_end;
    if (i == s.size()) break;
    const Decoded d = DecodeUtf8(s, i);
    if (d.ok) {
      out.append(s, i, d.len);
    } else {
      out += kReplacement;
    }
    i += d.len;
  }
  return out;
}

std::string SeriesKey(const Sample& s) {
  const TagMap& tags = s.tags();
  if (tags.empty()) return s.metric();
  // Map iterates in hash order; the key must not depend on it.
  std::vector<const TagMap::value_type*> sorted;
  sorted.reserve(tags.size());
  size_t bytes = s.metric().size();
  for (const auto& kv : tags) {
    sorted.push_back(&kv);
    bytes += 2 + kv.first.size() + kv.second.size();
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  std::string key;
  key.reserve(bytes);
  key += s.metric();
  for (const auto* kv : sorted) {
    key += ';';
    key += kv->first;
    key += '=';
    key += kv->second;
  }
  return key;
}

}  // namespace hw::naming
