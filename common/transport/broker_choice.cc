#include "common/transport/broker_choice.h"

#include <algorithm>
#include <string>

#include "common/strings/fnv1a.h"

namespace hw::transport {
namespace {

// FNV-1a's last bytes reach the high bits only weakly; a finaliser (splitmix64) evens that out.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

int64_t Ms(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); }

}  // namespace

size_t PreferredBroker(std::string_view endpoint, size_t broker_count) {
  // Rendezvous (highest random weight) hashing: each host ranks the brokers by hash(endpoint, i)
  // and takes the top one.
  size_t best = 0;
  uint64_t best_score = 0;
  std::string key(endpoint);
  key.push_back('\0');
  const size_t prefix = key.size();
  for (size_t i = 0; i < broker_count; ++i) {
    key.resize(prefix);
    key += std::to_string(i);
    const uint64_t score = Mix64(strings::Fnv1a64(key));
    if (i == 0 || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

BrokerChoice::BrokerChoice(std::string_view endpoint, size_t brokers,
                           std::chrono::milliseconds failover_after, HeartbeatTiming heartbeat)
    : brokers_(std::max<size_t>(brokers, 1)),
      preferred_(PreferredBroker(endpoint, brokers_)),
      failover_after_ms_(Ms(failover_after)),
      current_(preferred_),
      liveness_(heartbeat) {}

void BrokerChoice::Connected(size_t index, int64_t now_ms) {
  current_ = index;
  connected_ms_ = now_ms;
  waiting_since_ms_ = now_ms;
  auth_refused_ms_.reset();
  liveness_.Reset(now_ms);
}

void BrokerChoice::ConnectFailed(int64_t now_ms) {
  waiting_since_ms_ = now_ms;
  auth_refused_ms_.reset();
  liveness_.Reset(now_ms);
}

void BrokerChoice::Observe(bool unacked, bool heard, int64_t now_ms) {
  // The wait for an ack starts when records become unacked, and again at anything heard.
  if (heard || !unacked || !unacked_) waiting_since_ms_ = now_ms;
  unacked_ = unacked;
  if (heard) liveness_.Heard();
}

std::optional<BrokerChoice::Switch> BrokerChoice::Decide(int64_t now_ms) const {
  if (brokers_ > 1 && unacked_ && now_ms - waiting_since_ms_ > failover_after_ms_) {
    return Switch{Next(), Reason::kNoAck};
  }
  if (auth_refused_ms_ && now_ms - *auth_refused_ms_ > Ms(kAuthRetryAfter)) {
    return Switch{Next(), Reason::kRefused};
  }
  if (liveness_.Silent(now_ms)) return Switch{Next(), Reason::kSilent};
  if (current_ != preferred_ && !unacked_ && now_ms - connected_ms_ > Ms(kFailbackAfter)) {
    return Switch{preferred_, Reason::kFailback};
  }
  return std::nullopt;
}

int64_t BrokerChoice::NextDueMs() const {
  int64_t due = liveness_.NextDueMs();
  if (brokers_ > 1 && unacked_) due = std::min(due, waiting_since_ms_ + failover_after_ms_);
  if (auth_refused_ms_) due = std::min(due, *auth_refused_ms_ + Ms(kAuthRetryAfter));
  if (current_ != preferred_ && !unacked_) due = std::min(due, connected_ms_ + Ms(kFailbackAfter));
  return due;
}

}  // namespace hw::transport
