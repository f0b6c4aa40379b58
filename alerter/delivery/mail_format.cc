#include "alerter/delivery/mail_format.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/naming/naming.h"

namespace hw::alerter::delivery {
namespace {

constexpr size_t kMaxBodyBytes = 2 << 20;  // a 500-host incident with log lines fits well below

std::string SeverityName(hostwatch::v1::Severity s) {
  std::string name = hostwatch::v1::Severity_Name(s);
  if (name.empty() || s == hostwatch::v1::SEVERITY_UNSPECIFIED) return "unspecified";
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

// Valid UTF-8 with every control character shown as an escape: the text cannot break a line.
std::string Visible(std::string_view raw) {
  const std::string s = naming::SanitizeUtf8(raw);
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out.push_back(ch);
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == 0) {
      out += "\\0";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// Cuts s to at most max bytes without splitting a UTF-8 character.
std::string_view CutUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// One graphite path component (as hostwatch-graphite names it: graphite/README.md): anything but
// [A-Za-z0-9_-] becomes '_'.
std::string GraphiteComponent(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  return out;
}

bool TimeParts(int64_t time_ms, struct tm* tm) {
  const time_t secs = static_cast<time_t>(time_ms >= 0 ? time_ms / 1000 : (time_ms - 999) / 1000);
  return gmtime_r(&secs, tm) != nullptr;
}

}  // namespace

std::string RfcDate(int64_t time_ms) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm {};
  if (!TimeParts(time_ms, &tm)) return "Thu, 01 Jan 1970 00:00:00 +0000";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string HumanTime(int64_t time_ms) {
  struct tm tm {};
  if (!TimeParts(time_ms, &tm)) return "?";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string Rfc3339(int64_t time_ms) {
  struct tm tm {};
  if (!TimeParts(time_ms, &tm)) return "1970-01-01T00:00:00Z";
  const int ms = static_cast<int>(((time_ms % 1000) + 1000) % 1000);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string GraphiteLink(std::string_view graphite_url, const AlertView& a) {
  if (graphite_url.empty() || a.metric.empty()) return "";
  std::string path = "hostwatch." + GraphiteComponent(a.alert.endpoint());
  for (std::string_view part : [&] {
         std::vector<std::string_view> parts;
         std::string_view m = a.metric;
         while (true) {
           const size_t dot = m.find('.');
           parts.push_back(m.substr(0, dot));
           if (dot == std::string_view::npos) break;
           m.remove_prefix(dot + 1);
         }
         return parts;
       }()) {
    path += "." + GraphiteComponent(part);
  }
  for (const auto& [k, v] : a.tags) path += "." + GraphiteComponent(v);  // sorted by key
  std::string base(graphite_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  const int64_t since_s = (a.alert.since_ms() > 0 ? a.alert.since_ms() : a.alert.time_ms()) / 1000;
  const int64_t until_s = std::max(a.ends_ms, a.alert.time_ms()) / 1000 + 600;
  return base + "/render?target=" + UrlEncode(path) + "&from=" + std::to_string(since_s - 3600) +
         "&until=" + std::to_string(until_s);
}

std::string Body(const Notification& n) {
  std::string b;
  const char* status = "FIRING";
  switch (n.kind) {
    case Notification::Kind::kFiring:
      status = "FIRING";
      break;
    case Notification::Kind::kResolved:
      status = "RESOLVED";
      break;
    case Notification::Kind::kIncident:
      status = "INCIDENT";
      break;
    case Notification::Kind::kDigest:
      status = "DIGEST";
      break;
  }
  b += std::string(status) + ": " + Visible(n.rule.empty() ? n.receiver : n.rule) + " (" +
       SeverityName(n.severity) + ")\n";
  if (!n.alerts.empty() && !n.alerts.front().expr.empty()) {
    b += "Expression: " + Visible(n.alerts.front().expr) + "\n";
  }
  b += "Time: " + HumanTime(n.time_ms) + "\n";
  if (n.kind == Notification::Kind::kDigest) {
    b += "\nThese notifications were held back by max_notifications_per_hour:\n";
    for (const std::string& s : n.digest_subjects) b += "  " + Visible(s) + "\n";
  }
  if (!n.alerts.empty()) {
    b += "Alerts: " + std::to_string(n.alerts.size()) + " on " + std::to_string(CountHosts(n)) +
         " hosts\n";
  }
  for (const AlertView& a : n.alerts) {
    if (b.size() > kMaxBodyBytes) {
      b += "\n(body cut at " + std::to_string(kMaxBodyBytes) + " bytes)\n";
      break;
    }
    b += "\n" + Visible(a.alert.endpoint()) + "  " + Visible(SeriesLabel(a)) + " = " +
         FormatValue(a.alert.value()) + "\n";
    if (!a.alert.summary().empty()) b += "  summary: " + Visible(a.alert.summary()) + "\n";
    if (a.alert.since_ms() > 0) b += "  since:   " + HumanTime(a.alert.since_ms()) + "\n";
    if (a.ends_ms > 0) b += "  healed:  " + HumanTime(a.ends_ms) + "\n";
    if (!a.recent.empty()) {
      b += "  recent:  ";
      const size_t from =
          a.recent.size() > kMaxRecentValues ? a.recent.size() - kMaxRecentValues : 0;
      for (size_t i = from; i < a.recent.size(); ++i) {
        if (i != from) b += ", ";
        // The time of day is enough beside the "since" line.
        b += FormatValue(a.recent[i].second) + " (" + HumanTime(a.recent[i].first).substr(11, 8) +
             ")";
      }
      b += "\n";
    }
    if (!a.host_tags.empty()) {
      b += "  host:    ";
      bool first = true;
      for (const auto& [k, v] : a.host_tags) {
        if (!first) b += ", ";
        first = false;
        b += Visible(k) + "=" + Visible(v);
      }
      b += "\n";
    }
    if (const std::string link = GraphiteLink(n.graphite_url, a); !link.empty()) {
      b += "  graph:   " + Visible(link) + "\n";
    }
    if (!a.log_lines.empty()) {
      const size_t from = a.log_lines.size() > kMaxLogLines ? a.log_lines.size() - kMaxLogLines : 0;
      b += "  log lines";
      if (from > 0) {
        b += " (last " + std::to_string(kMaxLogLines) + " of " +
             std::to_string(a.log_lines.size()) + ")";
      }
      b += ":\n";
      for (size_t i = from; i < a.log_lines.size(); ++i) {
        const std::string line = Visible(a.log_lines[i]);
        const std::string_view cut = CutUtf8(line, kMaxLogLineBytes);
        b += "    | " + std::string(cut);
        if (cut.size() < line.size()) b += " ...(" + std::to_string(line.size()) + " bytes)";
        b += "\n";
      }
    }
  }
  b += "\n-- \nhostwatch alerter, receiver " + Visible(n.receiver) + "\n";
  return b;
}

std::string SanitizeHeaderValue(std::string_view v, size_t max_bytes) {
  const std::string s = naming::SanitizeUtf8(v);
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool space = c < 0x20 || c == 0x7f || c == ' ';
    if (space) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(ch);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return std::string(CutUtf8(out, max_bytes));
}

std::string EncodeHeaderValue(std::string_view sanitized) {
  const bool plain =
      sanitized.size() <= 70 && sanitized.find("=?") == std::string_view::npos &&
      std::all_of(sanitized.begin(), sanitized.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (plain) return std::string(sanitized);
  // 45 bytes of text make 60 base64 characters: with "=?UTF-8?B?" and "?=" a word of 72 <= 75.
  constexpr size_t kChunk = 45;
  std::string out;
  size_t pos = 0;
  while (pos < sanitized.size()) {
    const std::string_view chunk = CutUtf8(sanitized.substr(pos), kChunk);
    const size_t len = chunk.empty() ? std::min(kChunk, sanitized.size() - pos) : chunk.size();
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(sanitized.substr(pos, len)) + "?=";
    pos += len;
  }
  return out;
}

std::string QuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  size_t col = 0;
  auto put = [&](std::string_view token) {
    if (col + token.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += token;
    col += token.size();
  };
  auto hex = [](unsigned char c) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    return std::string{'=', kHex[c >> 4], kHex[c & 15]};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\r\n";
      col = 0;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n';
    const bool literal = (c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0)) ||
                         ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      // A soft break before a '.' would put it first on the next line: encode it then.
      if (c == '.' && col + 1 > 75) {
        put(hex(c));
      } else {
        put(std::string_view(&text[i], 1));
      }
    } else {
      put(hex(c));
    }
  }
  return out;
}

bool IsPlainAddress(std::string_view address) {
  const size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= address.size() ||
      address.find('@', at + 1) != std::string_view::npos || address.size() > 254) {
    return false;
  }
  for (char ch : address) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
    if (std::string_view("<>()[]\\,;:\"").find(ch) != std::string_view::npos) return false;
  }
  return true;
}

std::string MessageId(std::string_view notification_id, std::string_view endpoint) {
  std::string left;
  for (char ch : notification_id) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_') {
      left.push_back(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "=%02X", c);
      left += buf;
    }
  }
  if (left.empty()) left = "hostwatch";
  std::string right;
  for (char ch : endpoint) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-') {
      right.push_back(ch);
    } else if (c == '.' && !right.empty() && right.back() != '.') {
      right.push_back('.');
    } else if (!right.empty() && right.back() != '.') {
      right.push_back('-');
    }
  }
  while (!right.empty() && (right.back() == '.' || right.back() == '-')) right.pop_back();
  if (right.empty()) right = "localhost";
  return "<" + left + "@" + right + ">";
}

std::string BuildMail(const Notification& n, const MailEnvelope& env) {
  std::string m;
  auto header = [&m](std::string_view name, std::string_view value) {
    m.append(name).append(": ").append(value).append("\r\n");
  };
  header("Date", RfcDate(n.time_ms));
  header("From", env.from);
  std::string to;
  for (const std::string& addr : env.to) {
    if (!IsPlainAddress(addr)) continue;  // CreateDelivery refuses them; never trust a caller
    if (!to.empty()) to += ",\r\n ";
    to += addr;
  }
  header("To", to);
  header("Subject", EncodeHeaderValue(SanitizeHeaderValue(Subject(n))));
  header("Message-ID", MessageId(n.id, env.endpoint));
  header("MIME-Version", "1.0");
  header("Content-Type", "text/plain; charset=utf-8");
  header("Content-Transfer-Encoding", "quoted-printable");
  header("Auto-Submitted", "auto-generated");
  header("X-Hostwatch-Receiver", EncodeHeaderValue(SanitizeHeaderValue(n.receiver, 200)));
  if (!n.rule.empty()) {
    header("X-Hostwatch-Rule", EncodeHeaderValue(SanitizeHeaderValue(n.rule, 200)));
  }
  header("X-Hostwatch-Severity", SeverityName(n.severity));
  m += "\r\n";
  m += QuotedPrintable(Body(n));
  if (m.size() < 2 || m.compare(m.size() - 2, 2, "\r\n") != 0) m += "\r\n";
  return m;
}

}  // namespace hw::alerter::delivery
