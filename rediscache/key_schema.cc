#include "rediscache/key_schema.h"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace hw::rediscache {

namespace pb = hostwatch::v1;

std::string FormatValue(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "0";
  return std::string(buf, ptr);
}

void SeriesNameInto(const pb::Sample& s, std::string* out) {
  out->assign(s.metric());
  if (s.tags().empty()) return;
  // At most 32 tags (docs/wire_format.md §3): a small array sorted in place, no allocation.
  std::pair<const std::string*, const std::string*> tags[64];
  size_t n = 0;
  for (const auto& [k, v] : s.tags()) {
    if (n == std::size(tags)) break;
    tags[n++] = {&k, &v};
  }
  std::sort(tags, tags + n, [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (size_t i = 0; i < n; ++i) {
    *out += ';';
    *out += *tags[i].first;
    *out += '=';
    *out += *tags[i].second;
  }
}

std::string SeriesName(const pb::Sample& s) {
  std::string out;
  SeriesNameInto(s, &out);
  return out;
}

void LatestValueInto(double v, int64_t time_ms, std::string* out) {
  char buf[64];
  char* end = buf + sizeof buf;
  auto r = std::to_chars(buf, end, v);
  char* p = r.ec == std::errc() ? r.ptr : buf;
  if (p == buf) *p++ = '0';
  *p++ = ' ';
  p = std::to_chars(p, end, time_ms).ptr;
  out->assign(buf, p);
}

std::string LatestValue(double v, int64_t time_ms) {
  std::string out;
  LatestValueInto(v, time_ms, &out);
  return out;
}

void HistoryMemberInto(double v, int64_t time_ms, std::string* out) {
  char buf[64];
  char* end = buf + sizeof buf;
  char* p = std::to_chars(buf, end, time_ms).ptr;
  *p++ = ':';
  auto r = std::to_chars(p, end, v);
  if (r.ec == std::errc()) {
    p = r.ptr;
  } else {
    *p++ = '0';  // as FormatValue
  }
  out->assign(buf, p);
}

std::string HistoryMember(double v, int64_t time_ms) {
  std::string out;
  HistoryMemberInto(v, time_ms, &out);
  return out;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = Utf8Length(s, i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f || n == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string JsonObject(const std::map<std::string, std::string>& m) {
  std::string out = "{";
  for (const auto& [k, v] : m) {
    if (out.size() > 1) out += ',';
    out += JsonString(k);
    out += ':';
    out += JsonString(v);
  }
  return out + "}";
}

std::string JsonArray(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const std::string& s : v) {
    if (out.size() > 1) out += ',';
    out += JsonString(s);
  }
  return out + "]";
}

std::string ReplayStableStreamId(int64_t sent_ms, uint64_t seq, uint32_t index) {
  return std::to_string(sent_ms < 0 ? 0 : sent_ms) + "-" +
         std::to_string(seq * 65536 + (index & 0xffff));
}

bool MatchesAny(std::string_view metric, const std::vector<std::string>& patterns) {
  const std::string m(metric);
  for (const std::string& p : patterns) {
    if (p == m || fnmatch(p.c_str(), m.c_str(), 0) == 0) return true;
  }
  return false;
}

std::string_view SeverityWord(pb::Severity s) {
  switch (s) {
    case pb::DEBUG:
      return "debug";
    case pb::INFO:
      return "info";
    case pb::WARNING:
      return "warning";
    case pb::ERROR:
      return "error";
    case pb::CRITICAL:
      return "critical";
    default:
      return "unspecified";
  }
}

std::string_view AlertStateWord(pb::Alert::State s) {
  switch (s) {
    case pb::Alert::PENDING:
      return "pending";
    case pb::Alert::FIRING:
      return "firing";
    case pb::Alert::RESOLVED:
      return "resolved";
    default:
      return "unspecified";
  }
}

}  // namespace hw::rediscache
