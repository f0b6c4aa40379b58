// FNV-1a, 64 bit (http://www.isthe.com/chongo/tech/comp/fnv/): a fast, stable hash of a string for
// placement and sharding, the same on every host and in every release. Not for security.
#pragma once

#include <cstdint>
#include <string_view>

namespace hw::strings {

inline constexpr uint64_t kFnv1a64OffsetBasis = 14695981039346656037ull;
inline constexpr uint64_t kFnv1a64Prime = 1099511628211ull;

// offset_basis: FNV's unless a persisted layout was made with another (see the broker's placement).
constexpr uint64_t Fnv1a64(std::string_view s, uint64_t offset_basis = kFnv1a64OffsetBasis) {
  uint64_t h = offset_basis;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnv1a64Prime;
  }
  return h;
}

}  // namespace hw::strings
