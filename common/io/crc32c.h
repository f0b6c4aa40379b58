// CRC-32C (Castagnoli), the checksum of every spool and journal record. Chosen over CRC-32 because
// x86-64's SSE4.2 computes it in hardware; a table-driven fallback gives the same values elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hw::io {

// Extends crc (0 for a fresh checksum) over n bytes. Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
inline uint32_t Crc32c(std::string_view s, uint32_t crc = 0) {
  return Crc32c(s.data(), s.size(), crc);
}

}  // namespace hw::io
