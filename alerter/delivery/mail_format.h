// E-mail a person can act on (docs/alerter-delivery.md, Mail format), built from a Notification.
// Pure functions: no clock, no I/O, so every rule below has a unit test (mail_format_test.cc).
//
// Safety rules, because alert text comes from the monitored hosts (log lines, tag values):
// - Header values are stripped of CR, LF, NUL and other control characters, made valid UTF-8, and
//   RFC 2047-encoded when not plain ASCII; no alert text can start a new header line.
// - Log text appears only in the body, with control characters shown as \r, \n, \0, \xNN, each
//   line cut to kMaxLogLineBytes and at most kMaxLogLines per alert.
// - The body is quoted-printable: no line longer than 76 characters, no bare CR or LF, and a line
//   can never be a lone "." (the SMTP end of data), whatever the alert says.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerter/notification.h"
#include "alerter/notification_text.h"

namespace hw::alerter::delivery {

inline constexpr size_t kMaxLogLineBytes = 512;
inline constexpr size_t kMaxLogLines = 20;
inline constexpr size_t kMaxRecentValues = 10;
inline constexpr size_t kMaxSubjectBytes = 400;

// The plain-text body (UTF-8, "\n" line ends): rule, expression, severity, then per alert its
// endpoint, series, value, since when, recent values, matched log lines and a graphite render link.
std::string Body(const Notification& n);

// A header value made safe: valid UTF-8, CR/LF/NUL/controls replaced by spaces, runs of spaces
// collapsed, cut to max_bytes (at a character boundary).
std::string SanitizeHeaderValue(std::string_view v, size_t max_bytes = kMaxSubjectBytes);

// An already sanitised value as it goes after "Name: ": unchanged if printable ASCII and short
// enough for one line; otherwise RFC 2047 "=?UTF-8?B?...?=" words of at most 75 characters,
// folded with CRLF + space, never splitting a UTF-8 character between two words.
std::string EncodeHeaderValue(std::string_view sanitized);

// Quoted-printable (RFC 2045 §6.7) with CRLF line ends; '\n' in text is a hard line break. A
// leading '.' is encoded, so no line of the result is the SMTP end-of-data marker.
std::string QuotedPrintable(std::string_view text);

// True for a plain addr-spec we are willing to put in From/To: local@domain, printable ASCII,
// no spaces, quotes, angle brackets, commas or control characters.
bool IsPlainAddress(std::string_view address);

// "<sanitised id>@<endpoint>" inside angle brackets: characters outside [A-Za-z0-9-_] of the id
// become "=XX" (an injective mapping, so two ids never share a Message-ID).
std::string MessageId(std::string_view notification_id, std::string_view endpoint);

// RFC 5322 date-time in UTC: "Sat, 05 Dec 2026 07:22:45 +0000".
std::string RfcDate(int64_t time_ms);
// "2026-12-05 07:22:45 UTC" for bodies; RFC 3339 "2026-12-05T07:22:45.123Z" for JSON.
std::string HumanTime(int64_t time_ms);
std::string Rfc3339(int64_t time_ms);

// A graphite-web render link for one alert's series under prefix "hostwatch" (graphite.yaml's
// default, naming: path), or "" when graphite_url or the metric is empty.
std::string GraphiteLink(std::string_view graphite_url, const AlertView& a);

struct MailEnvelope {
  std::string from;
  std::vector<std::string> to;  // each IsPlainAddress
  std::string endpoint;         // this alerter, for the Message-ID
};

// The whole RFC 5322 message with CRLF line ends: Date (n.time_ms), From, To, Subject,
// Message-ID, MIME headers, X-Hostwatch-* headers, then the quoted-printable body.
std::string BuildMail(const Notification& n, const MailEnvelope& env);

}  // namespace hw::alerter::delivery
