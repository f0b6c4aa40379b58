// The segmented log's on-disk format (the rules are in segmented_log.h): record framing of
// format 2 and format 1, segment file names, and the recovery scan of one segment's bytes. Pure
// functions, for segmented_log.cc and its tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hw::io::segment_format {

inline constexpr char kMagic[8] = {'H', 'W', 'S', 'G', 2, 0, 0, 0};  // format 2's segment header
inline constexpr uint64_t kSegmentHeaderBytes = sizeof kMagic;
inline constexpr uint64_t kRecordHeaderBytes = 16;  // format 2
inline constexpr uint64_t kLost = 1ull << 63;       // flag on a slot's position: its record is lost
inline constexpr uint64_t kNoLimit = UINT64_MAX;

enum class Format : uint8_t {
  kSpool1,    // format 1 spool: [u32 length][u32 crc32c][bytes]
  kJournal1,  // format 1 journal: [u32 length][u32 crc32c][u64 index][bytes]
  k2,         // format 2: [u32 length][u32 masked crc][u64 index][bytes] after kMagic
};

inline uint64_t HeaderBytes(Format f) { return f == Format::kSpool1 ? 8 : 16; }

// leveldb's mask: rotate right by 15, add a constant. A CRC field of zeros then never matches
// zeros, and a CRC stored over data that itself holds CRCs still checks.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

struct Header {
  uint32_t length;
  uint32_t crc;
  uint64_t index;
};

// Format 1 spool records carry no index: theirs is the one expected.
Header DecodeHeader(Format f, const char* p, uint64_t expected);
// The CRC of the record at `record` (header included) matches h.
bool CrcMatches(Format f, const char* record, const Header& h);
// A format 2 header (kRecordHeaderBytes) for bytes at index.
void EncodeHeader(char* out, std::string_view bytes, uint64_t index);

// "<first, 20 digits><suffix>"; Parse refuses anything else, and index 0.
std::string SegmentName(uint64_t first, const std::string& suffix);
bool ParseSegmentName(const std::string& name, const std::string& suffix, uint64_t* first);

// What the recovery rules make of one segment's bytes.
struct Scan {
  Format format = Format::k2;
  bool torn_header = false;         // a prefix of kMagic, or zeros, shorter than it: no records
  std::vector<uint64_t> positions;  // [index - first] -> header position, | kLost
  uint64_t end = 0;                 // where the scan stopped: past the last slot's record
  uint64_t expected = 0;            // the index after the last slot
  uint64_t records = 0;             // slots not lost
  uint64_t corrupt = 0;             // slots lost
  // The same right after the last valid record: where a last segment is cut.
  uint64_t valid_end = 0;
  size_t valid_positions = 0;
  uint64_t valid_records = 0;
  uint64_t valid_corrupt = 0;
};
// data[0, n) is the segment whose name is first; limit is the next segment's first (kNoLimit for
// the last one); legacy is the framing of a segment without kMagic.
Scan ScanSegment(const char* data, uint64_t n, uint64_t first, uint64_t limit, Format legacy,
                 uint64_t max_record_bytes);

}  // namespace hw::io::segment_format
