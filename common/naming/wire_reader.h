// A bounds-checked cursor over protobuf wire bytes, shared by the scans that read envelopes without
// parsing them (envelope_wire.cc, sample_wire.cc). Internal to common/naming.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace hw::naming::wire {

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
enum WireType : int {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5
};

constexpr int kMaxGroupDepth = 32;  // protobuf's own recursion limit is 100; ours nest 4 deep

// A cursor over one message's bytes. Every read checks bounds; a false return means malformed.
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }
  // What is left to read.
  std::string_view rest() const {
    return std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(end_ - p_));
  }

  bool Varint(uint64_t* v) {
    if (p_ != end_ && *p_ < 0x80) {  // most varints here are one byte: tags, lengths, step_s
      *v = *p_++;
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t b = *p_++;
      // The tenth byte carries bit 63 only; protobuf drops the rest, so may we.
      result |= static_cast<uint64_t>(b & 0x7F) << (shift < 64 ? shift : 63);
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;  // more than ten bytes: protobuf rejects it too
  }

  // A tag is at most five bytes; protobuf keeps the low 32 bits of the fifth, and so do we.
  bool Tag(uint32_t* field, int* type) {
    uint32_t t = 0;
    if (p_ != end_ && *p_ < 0x80) {
      t = *p_++;
      *field = t >> 3;
      *type = static_cast<int>(t & 7);
      return *field != 0;
    }
    for (int i = 0;; ++i) {
      if (i == 5 || p_ == end_) return false;
      const uint8_t b = *p_++;
      t |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) break;
    }
    *field = t >> 3;
    *type = static_cast<int>(t & 7);
    return *field != 0;  // field 0 is never valid
  }

  bool Fixed64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    uint64_t x;
    std::memcpy(&x, p_, 8);  // little-endian on the wire and on every platform we build for
    p_ += 8;
    *v = x;
    return true;
  }

  bool Len(std::string_view* v) {
    uint64_t n;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *v = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }

  bool Skip(uint32_t field, int type, int depth = 0) {
    uint64_t ignored;
    std::string_view view;
    switch (type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Fixed64(&ignored);
      case kLen:
        return Len(&view);
      case kFixed32:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) return false;
        for (;;) {  // a (deprecated) group ends with an end-group tag of the same field
          uint32_t f;
          int t;
          if (!Tag(&f, &t)) return false;
          if (t == kEndGroup) return f == field;
          if (!Skip(f, t, depth + 1)) return false;
        }
      }
      default:
        return false;  // a stray end-group, or wire types 6 and 7
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace hw::naming::wire
