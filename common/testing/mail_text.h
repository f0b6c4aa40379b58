// Reading the mail our delivery writes, in tests: quoted-printable bodies back to text.
#pragma once

#include <string>
#include <string_view>

namespace hw::testing {

// Decodes a quoted-printable body (RFC 2045 §6.7): soft line breaks ("=" CRLF) removed, =XX to
// its byte, CRLF to LF. Only for bodies: an RFC 2047 encoded header word is not QP.
inline std::string DecodeQuotedPrintable(std::string_view qp) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(qp.size());
  for (size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] == '=' && qp.substr(i + 1, 2) == "\r\n") {
      i += 2;
    } else if (qp[i] == '=' && i + 2 < qp.size() && hex(qp[i + 1]) >= 0 && hex(qp[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(qp[i + 1]) * 16 + hex(qp[i + 2])));
      i += 2;
    } else if (qp[i] == '\r' && i + 1 < qp.size() && qp[i + 1] == '\n') {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(qp[i]);
    }
  }
  return out;
}

// The body of a message as stored (.eml: headers, a blank line, the body), decoded.
inline std::string MailBodyText(std::string_view message) {
  const size_t blank = message.find("\r\n\r\n");
  if (blank == std::string_view::npos) return {};
  return DecodeQuotedPrintable(message.substr(blank + 4));
}

}  // namespace hw::testing
