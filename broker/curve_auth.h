// CURVE on the broker's sockets (docs/wire_format.md §8): the broker's keypair, a directory of
// authorized client keys checked by a ZAP handler (RFC 27), and the endpoints each key may speak
// for.
//
// Fail closed at every layer: MakeCurveServer turns on ZAP domain enforcement, so a socket whose
// context has no ZapHandler refuses every client instead of admitting anyone who knows the broker's
// public key (libzmq's legacy "Stonehouse" default); the handler answers 400 to anything that is
// not CURVE with a known key in the "hostwatch" domain.
//
// Order of use (the broker daemon):
//   keys = LoadAuthorizedKeys(curve.authorized_keys_dir)
//   zap  = ZapHandler::Start(ctx, keys)           // before any socket binds
//   MakeCurveServer(frontend, curve); frontend.bind(...)   // likewise backend and tap
//   on SIGHUP: if (zap->Reload(...)) close every live connection (they reconnect through ZAP)
//   on a received envelope: KeyMayPublishFor(curve.bindings, msg.gets("User-Id"), endpoint)
//   on a Subscribe: KeyMayReadGroup(curve.group_bindings, msg.gets("User-Id"), group)
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "broker/broker_config.h"
#include "common/base/mutex.h"
#include "common/daemon/logging.h"
#include "common/status/status.h"
#include "common/transport/link_config.h"

namespace hw::broker {

// The ZAP domains of the broker's sockets, one per key role (docs/wire_format.md §8): the
// frontend's is kZapDomain, where only producer keys are accepted; the backend's and the tap's is
// kZapConsumerDomain, where only consumer keys are. The handler refuses requests from any other.
// The domain is a server-side socket option: clients are unaffected.
inline constexpr std::string_view kZapDomain = "hostwatch";
inline constexpr std::string_view kZapConsumerDomain = "hostwatch-consumer";

// Loads dir/*.pub: key name (the file stem, "collector-01" for collector-01.pub) -> Z85 public key.
// Other files are ignored (a README, or a .key that should not be there). Errors name the file:
// a .pub that is not one Z85 key, or two files holding the same key (its User-Id, and so its
// bindings, would be ambiguous). An empty directory is not an error: every client is refused.
Result<std::map<std::string, std::string>> LoadAuthorizedKeys(const std::string& dir);

// The ZAP handler (RFC 27, ZAP 1.0) for a context: a REP socket bound to inproc://zeromq.zap.01,
// served by its own thread. It answers 200 with User-Id = the key name only for mechanism CURVE in
// domain kZapDomain with an authorized client key; everything else gets 400 (NULL and PLAIN
// mechanisms, other domains, unknown keys, malformed requests). Denials are logged at most once per
// 10 s with a count of those held back.
//
// One per context (libzmq allows one ZAP endpoint per context), started before the CURVE sockets
// bind and destroyed before the context is closed. accepted(), denied() and Reload() are safe from
// any thread. libzmq asks once per connection handshake, so Reload affects new connections only:
// a connection whose key was removed stays up until it drops.
class ZapHandler {
 public:
  // keys: name -> Z85 public key, as LoadAuthorizedKeys returns: producer keys (kZapDomain) and
  // consumer keys (kZapConsumerDomain). Fails when a key does not decode, two names of one role
  // share a key, or another handler is already bound in ctx.
  static Result<std::unique_ptr<ZapHandler>> Start(
      zmq::context_t& ctx, std::map<std::string, std::string> keys,
      std::map<std::string, std::string> consumer_keys = {});
  ~ZapHandler();  // stops and joins the thread, closes the socket
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Replaces the authorized sets (SIGHUP). A set that Start would refuse is logged and the old sets
  // kept, as with any invalid reloaded config. Returns whether a key was taken away (removed, or
  // its file now holds another key): its live connections must then be closed by the caller
  // (libzmq asks ZAP only at the handshake).
  bool Reload(std::map<std::string, std::string> keys,
              std::map<std::string, std::string> consumer_keys = {}) EXCLUDES(mu_);

  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t denied() const { return denied_.load(std::memory_order_relaxed); }

 private:
  // Raw 32-byte public key -> key name; the ZAP request carries the raw key.
  using KeyIndex = std::map<std::string, std::string>;

  ZapHandler(zmq::socket_t socket, int wake_fd, KeyIndex index, KeyIndex consumer_index);
  static Result<KeyIndex> IndexKeys(const std::map<std::string, std::string>& keys);
  void Run();
  void AnswerOne() EXCLUDES(mu_);

  zmq::socket_t socket_;  // the REP; used only by thread_ once Start returns
  int wake_fd_;           // eventfd; the destructor writes it so that thread_ leaves its poll
  mutable Mutex mu_;
  KeyIndex index_ GUARDED_BY(mu_);           // producer keys
  KeyIndex consumer_index_ GUARDED_BY(mu_);  // consumer keys
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> denied_{0};
  daemon::RepeatLimiter deny_log_;  // thread_ only
  std::thread thread_;              // last: started after every member it uses exists
};

// Makes `socket` a CURVE server: ZMQ_CURVE_SERVER 1, ZMQ_CURVE_SECRETKEY from secret_key_file,
// ZMQ_ZAP_DOMAIN `domain`, ZMQ_ZAP_ENFORCE_DOMAIN 1. Call before bind. When public_key_file is
// set it must be the secret key's pair (a mismatch would otherwise show up only as every client
// failing its handshake). Applies the keys whatever `config.enabled` says; the caller decides.
Status MakeCurveServer(zmq::socket_t& socket, const CurveServerConfig& config,
                       std::string_view domain = kZapDomain);

// Makes `socket` a CURVE client with the keys of `config` (ZMQ_CURVE_SERVERKEY, PUBLICKEY,
// SECRETKEY), checking that public_key_file is the secret key's pair. Call before connect.
Status MakeCurveClient(zmq::socket_t& socket, const transport::CurveClientConfig& config);

// Whether the authenticated producer key `key_name` may publish for `endpoint`. Fail closed: a key
// with no binding may publish only for the endpoint of its own name; a bound key only for the
// endpoints matching one of its globs ('*' any run, '?' one character, everything else literal).
// A key bound to an empty list may publish for nothing.
bool KeyMayPublishFor(const std::map<std::string, std::vector<std::string>>& bindings,
                      std::string_view key_name, std::string_view endpoint);

// The same rule for a consumer key and a consumer group (curve.group_bindings): a key with no
// binding may read only the group of its own name.
bool KeyMayReadGroup(const std::map<std::string, std::vector<std::string>>& group_bindings,
                     std::string_view key_name, std::string_view group);

// The glob match behind KeyMayPublishFor, whole string.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace hw::broker
