#include "alerter/delivery/mail_format.h"

#include <gtest/gtest.h>

#include <set>

#include "common/naming/naming.h"
#include "common/testing/mail_text.h"

namespace hw::alerter::delivery {
namespace {

AlertView MakeAlert(const std::string& endpoint, double value) {
  AlertView a;
  a.alert.set_rule("cpu_high");
  a.alert.set_key("cpu_high|" + endpoint + "|cpu.busy;cpu=total");
  a.alert.set_state(hostwatch::v1::Alert::FIRING);
  a.alert.set_severity(hostwatch::v1::CRITICAL);
  a.alert.set_endpoint(endpoint);
  a.alert.set_series("cpu.busy;cpu=total");
  a.alert.set_value(value);
  a.alert.set_since_ms(1764917000000);
  a.alert.set_time_ms(1764917030000);
  a.metric = "cpu.busy";
  a.tags = {{"cpu", "total"}};
  a.expr = "all(#3) > 90";
  a.recent = {{1764917010000, 91}, {1764917020000, 93.5}, {1764917030000, value}};
  return a;
}

Notification Firing(int hosts) {
  Notification n;
  n.id = "ops/cpu_high/7";
  n.receiver = "ops";
  n.kind = Notification::Kind::kFiring;
  n.rule = "cpu_high";
  n.severity = hostwatch::v1::CRITICAL;
  for (int i = 0; i < hosts; ++i) n.alerts.push_back(MakeAlert("web-" + std::to_string(i), 95.5));
  n.time_ms = 1764917030000;
  return n;
}

struct ParsedMail {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded
  std::string body;                                          // raw (QP)
};

ParsedMail Parse(const std::string& mail) {
  ParsedMail p;
  const size_t end = mail.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  std::string_view head(mail.data(), end + 2);
  p.body = mail.substr(end + 4);
  while (!head.empty()) {
    const size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      EXPECT_FALSE(p.headers.empty());
      p.headers.back().second += std::string(line);
      continue;
    }
    const size_t colon = line.find(':');
    EXPECT_NE(colon, std::string_view::npos) << line;
    p.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
  return p;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else
      continue;
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  return out;
}

// Decodes a header made of =?UTF-8?B?...?= words separated by folding whitespace.
std::string DecodeWords(std::string_view v) {
  if (v.find("=?UTF-8?B?") == std::string_view::npos) return std::string(v);
  std::string out;
  size_t pos = 0;
  while ((pos = v.find("=?UTF-8?B?", pos)) != std::string_view::npos) {
    const size_t end = v.find("?=", pos + 10);
    out += Base64Decode(v.substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return out;
}

TEST(MailFormatTest, SubjectsSayWhatAndWhere) {
  EXPECT_EQ(Subject(Firing(1)), "[FIRING] cpu_high on web-0: cpu.busy{cpu=total} = 95.5");
  EXPECT_EQ(Subject(Firing(3)), "[FIRING:3] cpu_high on 3 hosts");
  Notification r = Firing(2);
  r.kind = Notification::Kind::kResolved;
  EXPECT_EQ(Subject(r), "[RESOLVED:2] cpu_high on 2 hosts");
  r.alerts.resize(1);
  EXPECT_EQ(Subject(r), "[RESOLVED] cpu_high on web-0: cpu.busy{cpu=total} = 95.5");
  Notification inc = Firing(500);
  inc.kind = Notification::Kind::kIncident;
  inc.rule = "host_silent";
  EXPECT_EQ(Subject(inc), "[INCIDENT] host_silent: 500 hosts");
  Notification d;
  d.kind = Notification::Kind::kDigest;
  d.receiver = "ops";
  d.digest_subjects = {"[FIRING] a", "[FIRING] b"};
  EXPECT_EQ(Subject(d), "[DIGEST] 2 notifications held back for ops");
}

TEST(MailFormatTest, BodyHasRuleValuesSinceAndGraphLink) {
  Notification n = Firing(1);
  n.graphite_url = "http://graphite.example/";
  const std::string body = Body(n);
  EXPECT_NE(body.find("FIRING: cpu_high (critical)"), std::string::npos) << body;
  EXPECT_NE(body.find("Expression: all(#3) > 90"), std::string::npos);
  EXPECT_NE(body.find("since:   2025-12-05 06:43:20 UTC"), std::string::npos) << body;
  EXPECT_NE(body.find("recent:  91 (06:43:30), 93.5 (06:43:40), 95.5 (06:43:50)"),
            std::string::npos)
      << body;
  EXPECT_NE(
      body.find("graph:   http://graphite.example/render?target=hostwatch.web-0.cpu.busy.total"
                "&from=1764913400&until=1764917630"),
      std::string::npos)
      << body;
}

TEST(MailFormatTest, IncidentListsEveryHost) {
  Notification n = Firing(500);
  n.kind = Notification::Kind::kIncident;
  const std::string body = Body(n);
  for (int i = 0; i < 500; ++i) {
    EXPECT_NE(body.find("\nweb-" + std::to_string(i) + "  "), std::string::npos) << i;
  }
}

TEST(MailFormatTest, DigestListsHeldBackSubjects) {
  Notification d;
  d.kind = Notification::Kind::kDigest;
  d.receiver = "ops";
  d.digest_subjects = {"[FIRING] disk_full on db-1: disk.used = 99", "[FIRING] x\r\nBcc: a@b"};
  const std::string body = Body(d);
  EXPECT_NE(body.find("  [FIRING] disk_full on db-1: disk.used = 99\n"), std::string::npos);
  EXPECT_NE(body.find("  [FIRING] x\\r\\nBcc: a@b\n"), std::string::npos);
}

TEST(MailFormatTest, MailIsValidWithTheRequiredHeaders) {
  const std::string mail = BuildMail(
      Firing(1),
      {"hostwatch@mon.example", {"ops@example.com", "b@example.com"}, "alert-01.example"});
  const ParsedMail p = Parse(mail);
  std::map<std::string, std::string> h(p.headers.begin(), p.headers.end());
  EXPECT_EQ(h.size(), p.headers.size()) << "a header appears twice";
  EXPECT_EQ(h["Date"], "Fri, 05 Dec 2025 06:43:50 +0000");
  EXPECT_EQ(h["From"], "hostwatch@mon.example");
  EXPECT_EQ(h["To"], "ops@example.com, b@example.com");
  EXPECT_EQ(h["Subject"], "[FIRING] cpu_high on web-0: cpu.busy{cpu=total} = 95.5");
  EXPECT_EQ(h["Message-ID"], "<ops=2Fcpu_high=2F7@alert-01.example>");
  EXPECT_EQ(h["Content-Transfer-Encoding"], "quoted-printable");
  for (size_t pos = 0; pos < mail.size();) {
    const size_t eol = mail.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos) << "the mail must end with CRLF";
    EXPECT_LE(eol - pos, 78u);
    pos = eol + 2;
  }
}

TEST(MailFormatTest, HostileLogLineCannotAddHeadersOrEndTheData) {
  Notification n = Firing(1);
  n.rule = "nginx\r\nBcc: evil@x.example";
  std::string huge(1 << 20, 'A');
  huge[500000] = '\0';
  n.alerts[0].metric.clear();
  n.alerts[0].alert.set_summary("line\r\nBcc: x@y");
  n.alerts[0].log_lines = {"GET /\r\nBcc: x@y", "\r\n.\r\n", std::string("nul\0byte", 8),
                           "bad utf8 \xff\xfe end", huge};
  const std::string mail = BuildMail(n, {"hostwatch@localhost", {"ops@example.com"}, "a"});
  const ParsedMail p = Parse(mail);
  std::set<std::string> names;
  for (const auto& [k, v] : p.headers) names.insert(k);
  EXPECT_EQ(names, (std::set<std::string>{
                       "Date", "From", "To", "Subject", "Message-ID", "MIME-Version",
                       "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
                       "X-Hostwatch-Receiver", "X-Hostwatch-Rule", "X-Hostwatch-Severity"}));
  for (const auto& [k, v] : p.headers) {
    if (k == "To") {
      EXPECT_EQ(v, "ops@example.com");
    }
    EXPECT_EQ(v.find('\0'), std::string::npos);
  }
  std::map<std::string, std::string> h(p.headers.begin(), p.headers.end());
  EXPECT_EQ(DecodeWords(h["X-Hostwatch-Rule"]), "nginx Bcc: evil@x.example");
  EXPECT_EQ(mail.find('\0'), std::string::npos);
  // No body line is a lone "." and every line is short: CRLF only as line ends.
  EXPECT_EQ(mail.find("\r\n.\r\n"), std::string::npos);
  EXPECT_EQ(mail.find("\n.\r"), std::string::npos);
  for (size_t i = 0; i < mail.size(); ++i) {
    if (mail[i] == '\n') {
      EXPECT_EQ(mail[i - 1], '\r') << "bare LF at " << i;
    }
    if (mail[i] == '\r') {
      EXPECT_EQ(mail[i + 1], '\n') << "bare CR at " << i;
    }
  }
  const std::string body = testing::DecodeQuotedPrintable(p.body);
  EXPECT_TRUE(naming::IsValidUtf8(body));
  EXPECT_NE(body.find("| GET /\\r\\nBcc: x@y\n"), std::string::npos);
  EXPECT_NE(body.find("| \\r\\n.\\r\\n\n"), std::string::npos);
  EXPECT_NE(body.find("| nul\\0byte\n"), std::string::npos);
  EXPECT_NE(body.find("| bad utf8 \xEF\xBF\xBD\xEF\xBF\xBD end\n"), std::string::npos);
  EXPECT_NE(body.find(" ...(1048577 bytes)"), std::string::npos);  // "\0" became "\\0"
  EXPECT_LT(mail.size(), 64u << 10) << "log text is cut";
}

TEST(MailFormatTest, NonAsciiSubjectIsEncodedInWordsThatRoundTrip) {
  Notification n = Firing(1);
  n.alerts[0].alert.set_endpoint("сервер-01");  // Cyrillic
  n.rule = std::string(120, 'r');
  const std::string subject = SanitizeHeaderValue(Subject(n));
  const std::string encoded = EncodeHeaderValue(subject);
  for (size_t pos = 0;;) {
    const size_t next = encoded.find("\r\n ", pos);
    const std::string_view word = std::string_view(encoded).substr(pos, next - pos);
    EXPECT_LE(word.size(), 75u);
    EXPECT_EQ(word.substr(0, 10), "=?UTF-8?B?");
    EXPECT_TRUE(naming::IsValidUtf8(Base64Decode(word.substr(10, word.size() - 12))))
        << "a character split across words";
    if (next == std::string::npos) break;
    pos = next + 3;
  }
  EXPECT_EQ(DecodeWords(encoded), subject);
}

TEST(MailFormatTest, HeaderValuesLoseControlsAndStayShort) {
  EXPECT_EQ(SanitizeHeaderValue(std::string("a\r\nb\0c\t d", 9)), "a b c d");
  EXPECT_EQ(SanitizeHeaderValue("\xff"), "\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeHeaderValue(std::string(1000, 'x')).size(), kMaxSubjectBytes);
  EXPECT_EQ(EncodeHeaderValue("plain"), "plain");
  EXPECT_NE(EncodeHeaderValue("looks =?like?= a word").find("=?UTF-8?B?"), std::string::npos);
}

TEST(MailFormatTest, QuotedPrintableKeepsLinesShortAndDotsSafe) {
  const std::string qp = QuotedPrintable(".\n" + std::string(200, 'x') + "\ntrailing \nx=y");
  EXPECT_EQ(qp.substr(0, 5), "=2E\r\n");
  EXPECT_NE(qp.find("trailing=20\r\n"), std::string::npos);
  EXPECT_NE(qp.find("x=3Dy"), std::string::npos);
  EXPECT_EQ(testing::DecodeQuotedPrintable(qp), ".\n" + std::string(200, 'x') + "\ntrailing \nx=y");
  // A '.' that a soft break would put first on a line is encoded.
  const std::string dots = QuotedPrintable(std::string(300, '.'));
  EXPECT_EQ(dots.find("\r\n."), std::string::npos);
  EXPECT_EQ(testing::DecodeQuotedPrintable(dots), std::string(300, '.'));
}

TEST(MailFormatTest, AddressesAndMessageIds) {
  EXPECT_TRUE(IsPlainAddress("ops@example.com"));
  EXPECT_FALSE(IsPlainAddress("ops@example.com\r\nBcc: x@y"));
  EXPECT_FALSE(IsPlainAddress("a@b, c@d"));
  EXPECT_FALSE(IsPlainAddress("Ops <ops@example.com>"));
  EXPECT_FALSE(IsPlainAddress("nobody"));
  EXPECT_EQ(MessageId("ops/a b/1", "host_1.example."), "<ops=2Fa=20b=2F1@host-1.example>");
  EXPECT_NE(MessageId("a/b", "x"), MessageId("a_b", "x"));
  EXPECT_EQ(RfcDate(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(Rfc3339(1764917030123), "2025-12-05T06:43:50.123Z");
  EXPECT_EQ(FormatValue(42.5), "42.5");
  EXPECT_EQ(FormatValue(0.1), "0.1");
}

}  // namespace
}  // namespace hw::alerter::delivery
