#include "common/naming/naming.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>
#include <vector>

namespace hw::naming {
namespace {

using namespace std::string_literals;  // "a\0b"s keeps the NUL
using hostwatch::v1::Sample;

// Names, error messages, UTF-8, series keys (naming.cc); the messages built from them are
// messages_test.cc's.

// One table for every name rule of docs/wire_format.md §3

enum class Rule { kMetric, kTagKey, kTagValue, kEndpoint, kSource };

struct NameCase {
  const char* what;  // also the test's name
  Rule rule;
  std::string input;
  bool valid;
};

Status Check(Rule rule, std::string_view input) {
  switch (rule) {
    case Rule::kMetric:
      return ValidateMetric(input);
    case Rule::kTagKey:
      return ValidateTagKey(input);
    case Rule::kTagValue:
      return ValidateTagValue(input);
    case Rule::kEndpoint:
      return ValidateEndpoint(input);
    case Rule::kSource:
      return ValidateSource(input);
  }
  return Status::Internal("unknown rule");
}

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

const std::vector<NameCase>& NameCases() {
  static const std::vector<NameCase> kCases = {
      // metric: [A-Za-z0-9_.-]{1,200}, no empty segment
      {"metric dotted", Rule::kMetric, "cpu.busy", true},
      {"metric with underscore and hyphen", Rule::kMetric, "disk.used_percent.sda-1", true},
      {"metric single segment", Rule::kMetric, "uptime", true},
      {"metric upper case and digits", Rule::kMetric, "Log.nginx_5xx.Count", true},
      {"metric exactly 200 bytes", Rule::kMetric, Repeat("a", 200), true},
      {"metric 200 bytes of segments", Rule::kMetric, Repeat("ab.", 66) + "cd", true},
      {"metric 201 bytes", Rule::kMetric, Repeat("a", 201), false},
      {"metric 10 KB", Rule::kMetric, Repeat("cpu.busy.", 1137) + "x", false},
      {"metric empty", Rule::kMetric, "", false},
      {"metric with space", Rule::kMetric, "cpu busy", false},
      {"metric with newline", Rule::kMetric, "cpu.busy\n", false},
      {"metric with tab", Rule::kMetric, "cpu\tbusy", false},
      {"metric with NUL", Rule::kMetric, "cpu\0busy"s, false},
      {"metric with double dot", Rule::kMetric, "cpu..busy", false},
      {"metric with leading dot", Rule::kMetric, ".cpu.busy", false},
      {"metric with trailing dot", Rule::kMetric, "cpu.busy.", false},
      {"metric only a dot", Rule::kMetric, ".", false},
      {"metric with tag injection", Rule::kMetric, "cpu.busy;cpu=0", false},
      {"metric with slash", Rule::kMetric, "disk/used", false},
      {"metric with unicode", Rule::kMetric, "disk.größe", false},
      {"metric with equals", Rule::kMetric, "a=b", false},

      // tag key: [A-Za-z0-9_]{1,64}
      {"tag key plain", Rule::kTagKey, "cpu", true},
      {"tag key with underscore and digits", Rule::kTagKey, "Mount_Point_2", true},
      {"tag key exactly 64 bytes", Rule::kTagKey, Repeat("k", 64), true},
      {"tag key 65 bytes", Rule::kTagKey, Repeat("k", 65), false},
      {"tag key empty", Rule::kTagKey, "", false},
      {"tag key with tag injection", Rule::kTagKey, "cpu;mount=x", false},
      {"tag key with equals", Rule::kTagKey, "a=b", false},
      {"tag key with comma", Rule::kTagKey, "a,b", false},
      {"tag key with dot", Rule::kTagKey, "a.b", false},
      {"tag key with hyphen", Rule::kTagKey, "a-b", false},
      {"tag key with space", Rule::kTagKey, "a b", false},
      {"tag key with NUL", Rule::kTagKey, "a\0"s, false},

      // tag value: 1-256 bytes of printable UTF-8
      {"tag value mount root", Rule::kTagValue, "/", true},
      {"tag value with spaces and punctuation", Rule::kTagValue, "GET /a?b=c;d, e", true},
      {"tag value two-byte UTF-8", Rule::kTagValue, "Zürich", true},
      {"tag value three-byte UTF-8", Rule::kTagValue, "日本", true},
      {"tag value four-byte UTF-8", Rule::kTagValue, "\xF0\x9F\x98\x80", true},
      {"tag value U+00A0 just past C1", Rule::kTagValue, "a\xC2\xA0z", true},
      {"tag value U+10FFFF", Rule::kTagValue, "\xF4\x8F\xBF\xBF", true},
      {"tag value exactly 256 bytes", Rule::kTagValue, Repeat("v", 256), true},
      {"tag value 256 bytes of two-byte chars", Rule::kTagValue, Repeat("ü", 128), true},
      {"tag value 257 bytes", Rule::kTagValue, Repeat("v", 257), false},
      {"tag value empty", Rule::kTagValue, "", false},
      {"tag value with newline", Rule::kTagValue, "a\nb", false},
      {"tag value with carriage return", Rule::kTagValue, "a\rb", false},
      {"tag value with tab", Rule::kTagValue, "a\tb", false},
      {"tag value with NUL", Rule::kTagValue, "a\0b"s, false},
      {"tag value with DEL", Rule::kTagValue, "a\x7F", false},
      {"tag value with C1 U+0085", Rule::kTagValue, "a\xC2\x85z", false},
      {"tag value with C1 U+009F", Rule::kTagValue, "a\xC2\x9Fz", false},
      {"tag value lone continuation byte", Rule::kTagValue, "a\x80z", false},
      {"tag value overlong slash", Rule::kTagValue, "\xC0\xAF", false},
      {"tag value overlong three-byte", Rule::kTagValue, "\xE0\x80\xAF", false},
      {"tag value overlong four-byte", Rule::kTagValue, "\xF0\x80\x80\xAF", false},
      {"tag value surrogate", Rule::kTagValue, "\xED\xA0\x80", false},
      {"tag value five-byte form", Rule::kTagValue, "\xF8\x88\x80\x80\x80", false},
      {"tag value above U+10FFFF", Rule::kTagValue, "\xF4\x90\x80\x80", false},
      {"tag value truncated sequence", Rule::kTagValue, "ab\xE6\x97", false},
      {"tag value Latin-1 byte", Rule::kTagValue, "Z\xFCrich", false},

      // endpoint: [A-Za-z0-9_.-]{1,253}
      {"endpoint short host", Rule::kEndpoint, "game-01", true},
      {"endpoint with dots underscores hyphens", Rule::kEndpoint, "web_01.sgp-2.example.com", true},
      {"endpoint IPv4 address", Rule::kEndpoint, "10.0.0.1", true},
      {"endpoint exactly 253 bytes", Rule::kEndpoint, Repeat("e", 253), true},
      {"endpoint 254 bytes", Rule::kEndpoint, Repeat("e", 254), false},
      {"endpoint empty", Rule::kEndpoint, "", false},
      {"endpoint with colon", Rule::kEndpoint, "game-01:7400", false},
      {"endpoint with space", Rule::kEndpoint, "game 01", false},
      {"endpoint with slash", Rule::kEndpoint, "game/01", false},
      {"endpoint dot dot", Rule::kEndpoint, "..", false},

      // source: <endpoint>/<component>
      {"source collector", Rule::kSource, "game-01/collector", true},
      {"source component with underscore and hyphen", Rule::kSource, "a.b/log_watch-2", true},
      {"source without slash", Rule::kSource, "game-01", false},
      {"source with upper case component", Rule::kSource, "game-01/Collector", false},
      {"source with dot in component", Rule::kSource, "game-01/col.lector", false},
      {"source with empty component", Rule::kSource, "game-01/", false},
      {"source with component 65 bytes", Rule::kSource, "h/" + Repeat("c", 65), false},
      {"source with empty endpoint", Rule::kSource, "/collector", false},
      {"source with bad endpoint", Rule::kSource, "game 01/collector", false},
      {"source with two slashes", Rule::kSource, "a/b/c", false},
  };
  return kCases;
}

class NameRuleTest : public testing::TestWithParam<NameCase> {};

TEST_P(NameRuleTest, AcceptsOrRejects) {
  const NameCase& c = GetParam();
  const Status st = Check(c.rule, c.input);
  if (c.valid) {
    EXPECT_TRUE(st.ok()) << c.what << ": " << st.ToString();
  } else {
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.what << " was accepted";
    // Whatever the input, the message is one printable line of bounded size.
    for (char ch : st.message()) {
      EXPECT_FALSE(ch == '\n' || ch == '\r' || ch == '\0') << c.what << ": " << st.message();
    }
    EXPECT_LT(st.message().size(), 400u) << c.what;
  }
}

std::string CaseName(const testing::TestParamInfo<NameCase>& info) {
  std::string name;
  bool upper = true;
  for (const char* p = info.param.what; *p != '\0'; ++p) {
    if (std::isalnum(static_cast<unsigned char>(*p))) {
      name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(*p))) : *p;
      upper = false;
    } else {
      upper = true;
    }
  }
  return name + (info.param.valid ? "_Valid" : "_Invalid");
}

INSTANTIATE_TEST_SUITE_P(Naming, NameRuleTest, testing::ValuesIn(NameCases()), CaseName);

TEST(NameRuleTableTest, HasAtLeastFortyCases) { EXPECT_GE(NameCases().size(), 40u); }

// Error messages

TEST(ErrorMessageTest, NamesTheFieldAndTheValue) {
  const Status st = ValidateMetric("cpu..busy");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("metric \"cpu..busy\": empty segment", 0), 0u) << st.message();
}

TEST(ErrorMessageTest, EscapesNonPrintableBytes) {
  EXPECT_EQ(ValidateMetric("a\0b"s).message(),
            "metric \"a\\x00b\": invalid character \\x00 at byte 1 (allowed: A-Za-z0-9_.-)");
  EXPECT_EQ(ValidateTagValue("x\ny").message(),
            "tag value \"x\\x0Ay\": control character \\x0A at byte 1");
  EXPECT_EQ(ValidateTagValue("a\xC2\x85").message(),
            "tag value \"a\\xC2\\x85\": control character U+0085 at byte 1");
  EXPECT_EQ(ValidateTagValue("\xC0\xAF").message(),
            "tag value \"\\xC0\\xAF\": invalid UTF-8 at byte 0");
}

TEST(ErrorMessageTest, EscapesQuotesSoTheValueCannotEndEarly) {
  EXPECT_EQ(ValidateTagKey("a\"b").message(),
            "tag key \"a\\\"b\": invalid character '\\\"' at byte 1 (allowed: A-Za-z0-9_)");
}

TEST(ErrorMessageTest, CutsLongValuesAndTellsTheirSize) {
  const Status st = ValidateMetric(std::string(10240, 'a'));
  EXPECT_EQ(st.message(), "metric \"" + std::string(64, 'a') +
                              "\xE2\x80\xA6(10240 bytes)\": longer than 200 bytes");
}

TEST(SourceEndpointTest, IsThePartBeforeTheSlash) {
  EXPECT_EQ(SourceEndpoint("game-01/collector"), "game-01");
  EXPECT_EQ(SourceEndpoint("game-01"), "");
}

// UTF-8

TEST(IsValidUtf8Test, AcceptsWellFormedAndRejectsIllFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough to take the eight-byte path"));
  EXPECT_TRUE(IsValidUtf8("a\0b"s));  // NUL is valid UTF-8; the tag rule rejects it separately
  EXPECT_TRUE(IsValidUtf8("Zürich 日本 \xF0\x9F\x98\x80"));
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));  // U+D7FF, just below the surrogates
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));  // U+E000, just above
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF8\x88\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xFE\xFF"));
  EXPECT_FALSE(IsValidUtf8("12345678\xE6\x97"));  // truncated after the fast path
}

TEST(SanitizeUtf8Test, KeepsValidTextAsIs) {
  EXPECT_EQ(SanitizeUtf8("Zürich 日本"), "Zürich 日本");
  EXPECT_EQ(SanitizeUtf8(""), "");
}

TEST(SanitizeUtf8Test, ReplacesEachMaximalIllFormedSubpartWithOneReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(SanitizeUtf8("a\x80z"), "a" + r + "z");
  EXPECT_EQ(SanitizeUtf8("Z\xFCrich"), "Z" + r + "rich");  // Latin-1
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), r + r);              // overlong: never a valid lead
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), r + r + r);      // surrogate
  EXPECT_EQ(SanitizeUtf8("ab\xE6\x97"), "ab" + r);         // truncated at the end
  EXPECT_EQ(SanitizeUtf8("\xE6\x97z"), r + "z");           // truncated in the middle
  EXPECT_EQ(SanitizeUtf8("\xF8\x88\x80\x80\x80"), r + r + r + r + r);
}

TEST(SanitizeUtf8Test, OutputIsAlwaysValid) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (int b = 255; b >= 0; --b) all += static_cast<char>(b);
  EXPECT_FALSE(IsValidUtf8(all));
  EXPECT_TRUE(IsValidUtf8(SanitizeUtf8(all)));
}

// Series keys

TEST(SeriesKeyTest, IsTheMetricWithoutTags) {
  Sample s;
  s.set_metric("load.1min");
  EXPECT_EQ(SeriesKey(s), "load.1min");
}

TEST(SeriesKeyTest, SortsTagsByKey) {
  Sample s;
  s.set_metric("disk.used_percent");
  (*s.mutable_tags())["mount"] = "/";
  (*s.mutable_tags())["fstype"] = "ext4";
  (*s.mutable_tags())["zone"] = "a";
  (*s.mutable_tags())["device"] = "sda1";
  EXPECT_EQ(SeriesKey(s), "disk.used_percent;device=sda1;fstype=ext4;mount=/;zone=a");
}

TEST(SeriesKeyTest, DoesNotDependOnInsertionOrder) {
  Sample a;
  Sample b;
  a.set_metric("m");
  b.set_metric("m");
  for (int i = 0; i < 32; ++i) (*a.mutable_tags())["k" + std::to_string(i)] = "v";
  for (int i = 31; i >= 0; --i) (*b.mutable_tags())["k" + std::to_string(i)] = "v";
  EXPECT_EQ(SeriesKey(a), SeriesKey(b));
}

TEST(SeriesKeyTest, SortsByBytesSoUpperCaseComesFirst) {
  Sample s;
  s.set_metric("m");
  (*s.mutable_tags())["b"] = "1";
  (*s.mutable_tags())["B"] = "2";
  (*s.mutable_tags())["a_"] = "3";
  (*s.mutable_tags())["a"] = "4";
  EXPECT_EQ(SeriesKey(s), "m;B=2;a=4;a_=3;b=1");
}

TEST(SafeNameTest, OnlyOneFileNameOfTheNameAlphabet) {
  EXPECT_TRUE(IsSafeName("game-01.key_2", 128));
  EXPECT_TRUE(IsSafeName(std::string(128, 'a'), 128));
  for (std::string_view bad : {"", ".", "..", "../evil", "a/b", "a b", "grp\n", "naïve"}) {
    EXPECT_FALSE(IsSafeName(bad, 128)) << bad;
  }
  EXPECT_FALSE(IsSafeName(std::string(129, 'a'), 128));
}

TEST(LocalEndpointTest, IsAValidEndpoint) {
  const std::string e = LocalEndpoint();
  EXPECT_TRUE(ValidateEndpoint(e).ok()) << e;
  EXPECT_TRUE(IsSafeName(LocalEndpoint("broker"), kMaxEndpointBytes));
}

// The fast name checks never accept what the validators refuse, and accept the usual names.
TEST(EnvelopeWireTest, FastNameChecksAreSubsetsOfTheValidators) {
  EXPECT_TRUE(internal::FastMetric("cpu.busy"));
  EXPECT_TRUE(internal::FastMetric("log.nginx_5xx.status.p99"));
  EXPECT_TRUE(internal::FastTagKey("host_index"));
  EXPECT_TRUE(internal::FastTagValue("/var/log/nginx/access.log"));
  std::mt19937_64 rng(7);
  const std::string alphabet = "ab.Z9_-. \x01\x7f/\xc3\xa9:";
  int metrics = 0, keys = 0, values = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string v(rng() % 40, ' ');  // past 16: the SSE2 blocks and the overlapping tail
    for (char& c : v) c = alphabet[rng() % alphabet.size()];
    if (rng() % 50 == 0) v.assign(190 + rng() % 80, 'a');  // around the length limits
    if (internal::FastMetric(v)) {
      ++metrics;
      ASSERT_TRUE(ValidateMetric(v).ok()) << v;
    }
    if (internal::FastTagKey(v)) {
      ++keys;
      ASSERT_TRUE(ValidateTagKey(v).ok()) << v;
    }
    if (internal::FastTagValue(v)) {
      ++values;
      ASSERT_TRUE(ValidateTagValue(v).ok()) << v;
    }
  }
  // Every length around the 16-byte blocks, with one bad byte at every position.
  for (size_t n = 1; n <= 48; ++n) {
    const std::string good(n, 'a');
    EXPECT_TRUE(internal::FastMetric(good)) << n;
    EXPECT_TRUE(internal::FastTagKey(good)) << n;
    EXPECT_TRUE(internal::FastTagValue(good)) << n;
    for (size_t at = 0; at < n; ++at) {
      std::string bad = good;
      bad[at] = '\x80';
      EXPECT_FALSE(internal::FastMetric(bad)) << n << " " << at;
      EXPECT_FALSE(internal::FastTagKey(bad)) << n << " " << at;
      EXPECT_FALSE(internal::FastTagValue(bad)) << n << " " << at;
      bad[at] = '-';  // a metric byte, not a tag key byte
      EXPECT_TRUE(internal::FastMetric(bad)) << n << " " << at;
      EXPECT_FALSE(internal::FastTagKey(bad)) << n << " " << at;
      bad[at] = '\x7f';
      EXPECT_FALSE(internal::FastTagValue(bad)) << n << " " << at;
    }
  }
  EXPECT_GT(metrics, 1000);
  EXPECT_GT(keys, 1000);
  EXPECT_GT(values, 1000);
}

}  // namespace
}  // namespace hw::naming
