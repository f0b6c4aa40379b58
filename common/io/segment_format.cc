#include "common/io/segment_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/io/crc32c.h"
#include "common/io/file_io.h"

namespace hw::io::segment_format {

Header DecodeHeader(Format f, const char* p, uint64_t expected) {
  return {GetFixed32(p), GetFixed32(p + 4), f == Format::kSpool1 ? expected : GetFixed64(p + 8)};
}

bool CrcMatches(Format f, const char* record, const Header& h) {
  const char* payload = record + HeaderBytes(f);
  if (f == Format::k2) {
    return Mask(Crc32c(payload, size_t{h.length}, Crc32c(record + 8, size_t{8}))) == h.crc;
  }
  return Crc32c(payload, size_t{h.length}) == h.crc;
}

void EncodeHeader(char* out, std::string_view bytes, uint64_t index) {
  PutFixed32(out, static_cast<uint32_t>(bytes.size()));
  PutFixed64(out + 8, index);
  PutFixed32(out + 4, Mask(Crc32c(bytes, Crc32c(out + 8, size_t{8}))));
}

std::string SegmentName(uint64_t first, const std::string& suffix) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(first));
  return digits + suffix;
}

// Index 0 is never a record, so a "0…" file is not ours either.
bool ParseSegmentName(const std::string& name, const std::string& suffix, uint64_t* first) {
  if (name.size() != 20 + suffix.size() || name.compare(20, suffix.size(), suffix) != 0) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, name[i] - '0', &v)) {
      return false;
    }
  }
  *first = v;
  return v != 0;
}

// The rules are segmented_log.h's "Recovery"; rule numbers refer to it.
Scan ScanSegment(const char* data, uint64_t n, uint64_t first, uint64_t limit, Format legacy,
                 uint64_t max_record_bytes) {
  Scan s;
  // The format: a header, a torn header (a prefix of it, or zeros) or no header (format 1).
  uint64_t start = 0;
  if (n >= kSegmentHeaderBytes && std::memcmp(data, kMagic, kSegmentHeaderBytes) == 0) {
    s.format = Format::k2;
    start = kSegmentHeaderBytes;
  } else if (n == 0 || (n < kSegmentHeaderBytes && std::memcmp(data, kMagic, n) == 0) ||
             (n < kSegmentHeaderBytes &&
              std::all_of(data, data + n, [](char c) { return c == 0; }))) {
    s.format = Format::k2;
    start = n;
    s.torn_header = true;
  } else {
    s.format = legacy;
  }
  const Format f = s.format;
  const uint64_t hb = HeaderBytes(f);
  const uint64_t max_record = max_record_bytes;

  // A header at p with an index in [lo, hi) and a record that fits in the file.
  auto consistent = [&](uint64_t p, uint64_t lo, uint64_t hi, Header* h) {
    if (n - p < hb) return false;
    *h = DecodeHeader(f, data + p, lo);
    if (f == Format::kSpool1 && h->length == 0 && h->crc == 0) return false;  // zeros: torn
    return h->index >= lo && h->index < hi && h->length <= max_record && h->length <= n - p - hb;
  };

  std::vector<uint64_t>& positions = s.positions;
  uint64_t pos = start;
  uint64_t expected = first;
  uint64_t corrupt = 0;
  // The state right after the last valid record: where the last segment is cut.
  s.valid_end = s.torn_header ? 0 : start;
  while (pos < n) {
    Header h{};
    if (consistent(pos, expected, std::min(expected + 1, limit), &h)) {
      const uint64_t next = pos + hb + h.length;
      if (CrcMatches(f, data + pos, h)) {  // rule 1
        positions.push_back(pos);
        ++s.records;
        ++expected;
        pos = next;
        s.valid_end = pos;
        s.valid_positions = positions.size();
        s.valid_corrupt = corrupt;
        s.valid_records = s.records;
        continue;
      }
      Header following{};
      if (next == n || consistent(next, expected + 1, std::min(expected + 2, limit), &following)) {
        positions.push_back(pos | kLost);  // rule 2
        ++corrupt;
        ++expected;
        pos = next;
        continue;
      }
    }
    if (f == Format::kSpool1) break;  // nothing to resynchronise on
    // Rule 3: resynchronise on the next record that proves itself with its CRC.
    uint64_t found = kNoLimit;
    Header found_header{};
    for (uint64_t p = pos + 1; n - p >= hb; ++p) {
      const uint64_t max_lost = (p - pos) / hb;
      if (consistent(p, expected, std::min(expected + max_lost + 1, limit), &found_header) &&
          CrcMatches(f, data + p, found_header)) {
        found = p;
        break;
      }
    }
    if (found == kNoLimit) break;
    for (; expected < found_header.index; ++expected) {
      positions.push_back(found | kLost);
      ++corrupt;
    }
    pos = found;  // taken by rule 1 on the next turn
  }
  s.end = pos;
  s.expected = expected;
  s.corrupt = corrupt;
  return s;
}

}  // namespace hw::io::segment_format
