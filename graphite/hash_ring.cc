#include "graphite/hash_ring.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "common/strings/strings.h"

namespace hw::graphite {
namespace {

// MD5 (RFC 1321), only for carbon_ch ring positions: the first two bytes of the digest of short
// keys. Written out here so the daemon needs no crypto library for a non-cryptographic use.
class Md5 {
 public:
  static std::array<uint8_t, 16> Digest(std::string_view data) {
    Md5 m;
    uint64_t bit_len = static_cast<uint64_t>(data.size()) * 8;
    size_t full = data.size() / 64 * 64;
    for (size_t i = 0; i < full; i += 64)
      m.Block(reinterpret_cast<const uint8_t*>(data.data()) + i);
    uint8_t tail[128] = {};
    size_t rest = data.size() - full;
    std::memcpy(tail, data.data() + full, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; ++i) tail[tail_len - 8 + i] = static_cast<uint8_t>(bit_len >> (8 * i));
    for (size_t i = 0; i < tail_len; i += 64) m.Block(tail + i);
    std::array<uint8_t, 16> out;
    for (int i = 0; i < 4; ++i)
      for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<uint8_t>(m.h_[i] >> (8 * b));
    return out;
  }

 private:
  static uint32_t Rotl(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

  void Block(const uint8_t* p) {
    static constexpr int kShift[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                       5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                       4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                       6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    static const std::array<uint32_t, 64> kSine = [] {
      std::array<uint32_t, 64> k{};
      // floor(abs(sin(i + 1)) * 2^32), as the RFC defines the table.
      for (int i = 0; i < 64; ++i)
        k[i] = static_cast<uint32_t>(
            static_cast<uint64_t>(std::abs(std::sin(i + 1.0)) * 4294967296.0));
      return k;
    }();
    uint32_t m[16];
    for (int i = 0; i < 16; ++i)
      m[i] = uint32_t{p[i * 4]} | uint32_t{p[i * 4 + 1]} << 8 | uint32_t{p[i * 4 + 2]} << 16 |
             uint32_t{p[i * 4 + 3]} << 24;
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    for (int i = 0; i < 64; ++i) {
      uint32_t f;
      int g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      f = f + a + kSine[i] + m[g];
      a = d;
      d = c;
      c = b;
      b = b + Rotl(f, kShift[i]);
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
  }

  uint32_t h_[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
};

bool ReprSafe(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= ' ' || c == '\'' || c == '"' || c == '\\' || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

uint32_t CarbonChHash(std::string_view key) {
  std::array<uint8_t, 16> d = Md5::Digest(key);
  return uint32_t{d[0]} << 8 | d[1];
}

uint32_t Fnv1aChHash(std::string_view key) {
  uint32_t h = 0x811c9dc5u;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x01000193u;
  }
  return (h >> 16) ^ (h & 0xffffu);
}

std::string CarbonDestination::ToString() const {
  std::string host = server.find(':') != std::string::npos ? "[" + server + "]" : server;
  std::string s = host + ":" + std::to_string(port);
  if (instance) s += ":" + *instance;
  return s;
}

Result<CarbonDestination> ParseCarbonDestination(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("destination \"" + std::string(text) +
                                   "\": " + std::string(why) + " (want host:port[:instance])");
  };
  CarbonDestination d;
  std::string_view rest;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("unterminated [address]");
    d.server = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 2);
  } else {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos) return bad("no port");
    d.server = std::string(text.substr(0, colon));
    rest = text.substr(colon + 1);
  }
  if (d.server.empty()) return bad("empty host");
  if (!ReprSafe(d.server)) return bad("host has a quote, backslash, space or control byte");
  size_t colon = rest.find(':');
  std::string_view port_text = rest.substr(0, colon);
  std::optional<uint64_t> port = strings::ParseU64(port_text);
  if (!port || *port == 0 || *port > 65535) return bad("port is not 1-65535");
  d.port = static_cast<uint16_t>(*port);
  if (colon != std::string_view::npos) {
    std::string_view inst = rest.substr(colon + 1);
    if (inst.empty()) return bad("empty instance");
    if (!ReprSafe(inst)) return bad("instance has a quote, backslash, space or control byte");
    d.instance = std::string(inst);
  }
  return d;
}

HashRing::HashRing(HashType type, const std::vector<CarbonDestination>& destinations,
                   int replica_count)
    : type_(type) {
  std::vector<uint32_t> taken;  // sorted positions so far
  for (size_t n = 0; n < destinations.size(); ++n) {
    const CarbonDestination& d = destinations[n];
    servers_.push_back(d.server);
    const std::string instance = d.instance ? *d.instance : "None";
    const std::string tuple_repr =
        "('" + d.server + "', " + (d.instance ? "'" + *d.instance + "'" : "None") + ")";
    for (int i = 0; i < replica_count; ++i) {
      uint32_t pos = type == HashType::kFnv1aCh
                         ? Fnv1aChHash(std::to_string(i) + "-" + instance)
                         : CarbonChHash(tuple_repr + ":" + std::to_string(i));
      // carbon: `while position in ring: position += 1` (no wrap).
      auto it = std::lower_bound(taken.begin(), taken.end(), pos);
      while (it != taken.end() && *it == pos) {
        ++pos;
        ++it;
      }
      taken.insert(it, pos);
      ring_.emplace_back(pos, n);
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

uint32_t HashRing::Hash(std::string_view key) const {
  return type_ == HashType::kFnv1aCh ? Fnv1aChHash(key) : CarbonChHash(key);
}

void HashRing::Place(std::string_view key, uint32_t replication, bool diverse_replicas,
                     std::vector<size_t>* out) const {
  out->clear();
  if (ring_.empty() || replication == 0) return;
  const uint32_t h = Hash(key);
  const size_t len = ring_.size();
  size_t index = static_cast<size_t>(
      std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(h, size_t{0})) - ring_.begin());
  index %= len;
  // get_nodes: distinct nodes, walking at most len - 1 entries (it stops at index - 1).
  const size_t last = (index + len - 1) % len;
  std::vector<size_t> used_nodes;
  std::vector<std::string_view> used_servers;
  while (used_nodes.size() < servers_.size() && index != last) {
    size_t node = ring_[index].second;
    index = (index + 1) % len;
    if (std::find(used_nodes.begin(), used_nodes.end(), node) != used_nodes.end()) continue;
    used_nodes.push_back(node);
    if (diverse_replicas) {
      if (std::find(used_servers.begin(), used_servers.end(), servers_[node]) != used_servers.end())
        continue;
      used_servers.push_back(servers_[node]);
    }
    out->push_back(node);
    if (out->size() >= replication) return;
  }
  // A single-node ring (or a walk that ended early) still places the key on the first node.
  if (out->empty()) out->push_back(ring_[index].second);
}

}  // namespace hw::graphite
