#include "graphite/carbon_naming.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

namespace hw::graphite {
namespace {

bool IsPathByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Tag values may keep '.' and ':' (versions, addresses): carbon files tagged series by a hash, so
// they never become directories.
bool IsTagValueByte(unsigned char c) { return IsPathByte(c) || c == '.' || c == ':'; }

void AppendSanitized(std::string_view text, bool (*keep)(unsigned char), std::string* out) {
  for (char ch : text) out->push_back(keep(static_cast<unsigned char>(ch)) ? ch : '_');
}

// Appends a dotted name (prefix or metric) with each segment sanitised. False on an empty segment
// or one past the file-name limit.
bool AppendDotted(std::string_view dotted, std::string* out) {
  size_t start = 0;
  for (;;) {
    size_t dot = dotted.find('.', start);
    std::string_view seg =
        dotted.substr(start, dot == std::string_view::npos ? dotted.npos : dot - start);
    if (seg.empty() || seg.size() > kMaxPathComponentBytes) return false;
    AppendSanitized(seg, IsPathByte, out);
    if (dot == std::string_view::npos) return true;
    out->push_back('.');
    start = dot + 1;
  }
}

bool AppendComponent(std::string_view text, std::string* out) {
  if (text.empty() || text.size() > kMaxPathComponentBytes) return false;
  AppendSanitized(text, IsPathByte, out);
  return true;
}

LineVerdict PathName(const NamingOptions& options, std::string_view endpoint,
                     const hostwatch::v1::Sample& sample, std::string* name) {
  if (!options.prefix.empty()) {
    if (!AppendDotted(options.prefix, name)) return LineVerdict::kUnsendableName;
    name->push_back('.');
  }
  if (!AppendComponent(endpoint, name)) return LineVerdict::kUnsendableName;
  name->push_back('.');
  if (!AppendDotted(sample.metric(), name)) return LineVerdict::kUnsendableName;
  // protobuf maps have no order; the path needs the sorted key order. The scratch vector keeps its
  // capacity between samples (no allocation per sample).
  thread_local std::vector<std::pair<std::string_view, std::string_view>> tags;
  tags.assign(sample.tags().begin(), sample.tags().end());
  std::sort(tags.begin(), tags.end());
  for (const auto& [key, value] : tags) {
    name->push_back('.');
    if (!AppendComponent(value, name)) return LineVerdict::kUnsendableName;
  }
  return LineVerdict::kOk;
}

LineVerdict TaggedName(std::string_view endpoint, const hostwatch::v1::Sample& sample,
                       std::string* name) {
  if (!AppendDotted(sample.metric(), name)) return LineVerdict::kUnsendableName;
  // Each tag as carbon writes it (";k=v"); carbon sorts these strings to normalise a name.
  std::vector<std::string> parts;
  parts.reserve(sample.tags_size() + 1);
  auto add = [&parts](std::string_view key, std::string_view value) {
    if (key.empty() || value.empty()) return false;
    std::string part = ";";
    AppendSanitized(key, IsPathByte, &part);
    part.push_back('=');
    AppendSanitized(value, IsTagValueByte, &part);
    parts.push_back(std::move(part));
    return true;
  };
  if (!add("host", endpoint)) return LineVerdict::kUnsendableName;
  for (const auto& [key, value] : sample.tags()) {
    const bool reserved = key == "host" || key == "name";
    if (!add(reserved ? "tag_" + key : key, value)) return LineVerdict::kUnsendableName;
  }
  std::sort(parts.begin(), parts.end());
  for (const std::string& p : parts) name->append(p);
  return LineVerdict::kOk;
}

}  // namespace

std::string SanitizePathComponent(std::string_view text) {
  std::string out;
  AppendSanitized(text, IsPathByte, &out);
  return out;
}

LineVerdict CarbonName(const NamingOptions& options, std::string_view endpoint,
                       const hostwatch::v1::Sample& sample, std::string* name) {
  name->clear();
  LineVerdict v = options.naming == Naming::kTagged ? TaggedName(endpoint, sample, name)
                                                    : PathName(options, endpoint, sample, name);
  if (v == LineVerdict::kOk && name->size() > kMaxCarbonNameBytes) v = LineVerdict::kUnsendableName;
  return v;
}

LineVerdict AppendCarbonLine(std::string_view name, double value, int64_t time_ms,
                             std::string* out) {
  if (!std::isfinite(value)) return LineVerdict::kNonFinite;
  char buf[64];
  out->append(name);
  out->push_back(' ');
  auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, r.ptr);
  out->push_back(' ');
  // Floor, not truncation: whisper floors to its step too, and -1 ms is second -1.
  int64_t unix_s = time_ms >= 0 ? time_ms / 1000 : -((-time_ms + 999) / 1000);
  r = std::to_chars(buf, buf + sizeof(buf), unix_s);
  out->append(buf, r.ptr);
  out->push_back('\n');
  return LineVerdict::kOk;
}

}  // namespace hw::graphite
