#include "broker/curve_auth.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <optional>
#include <utility>
#include <zmq_addon.hpp>

#include "common/transport/curve_keys.h"
#include "common/transport/zmq_socket.h"

namespace hw::broker {
namespace {

namespace fs = std::filesystem;

// libzmq serves ZAP for a context on this fixed endpoint (RFC 27).
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr std::string_view kZapVersion = "1.0";
constexpr size_t kCurveKeyBytes = 32;

// ZMQ_ZAP_ENFORCE_DOMAIN is declared only under ZMQ_BUILD_DRAFT_API in 4.3's zmq.h (so cppzmq has
// no sockopt for it), yet libzmq 4.3 honours it in every build. We set it by number and read it
// back, because without it a CURVE socket whose context has no ZAP handler admits every client.
constexpr int kZapEnforceDomainOption = 93;
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
static_assert(ZMQ_ZAP_ENFORCE_DOMAIN == kZapEnforceDomainOption);
#endif

Status RequireCurve() {
  if (zmq_has("curve") == 0) {
    return Status::FailedPrecondition("this libzmq was built without CURVE support");
  }
  return Status::Ok();
}

std::string_view View(const zmq::message_t& frame) {
  return {static_cast<const char*>(frame.data()), frame.size()};
}

}  // namespace

Result<std::map<std::string, std::string>> LoadAuthorizedKeys(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("curve.authorized_keys_dir is not set");
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code type_ec;
    if (it->path().extension() != ".pub" || it->is_directory(type_ec)) continue;
    files.push_back(it->path());
  }
  if (ec) return Status::IoError("read authorized keys " + dir, ec.value());

  std::map<std::string, std::string> keys;
  std::map<std::string, std::string> file_by_raw_key;
  for (const fs::path& file : files) {
    Result<std::string> key = transport::ReadZ85KeyFile(file.string());
    if (!key.ok()) return key.status();
    std::optional<std::string> raw = transport::DecodeZ85Key(*key);
    if (!raw) return Status::InvalidArgument(file.string() + ": not a Z85 CURVE key");
    auto [existing, inserted] = file_by_raw_key.emplace(*raw, file.string());
    if (!inserted) {
      return Status::InvalidArgument(file.string() + " holds the same key as " + existing->second +
                                     " (its User-Id would be ambiguous)");
    }
    keys.emplace(file.stem().string(), std::move(*key));
  }
  return keys;
}

// ---- ZapHandler ----

Result<ZapHandler::KeyIndex> ZapHandler::IndexKeys(const std::map<std::string, std::string>& keys) {
  KeyIndex index;
  for (const auto& [name, z85] : keys) {
    if (name.empty()) return Status::InvalidArgument("an authorized key has an empty name");
    std::optional<std::string> raw = transport::DecodeZ85Key(z85);
    if (!raw) {
      return Status::InvalidArgument("authorized key " + name + ": not a Z85 CURVE public key");
    }
    auto [existing, inserted] = index.emplace(std::move(*raw), name);
    if (!inserted) {
      return Status::InvalidArgument("authorized keys " + existing->second + " and " + name +
                                     " are the same public key");
    }
  }
  return index;
}

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(
    zmq::context_t& ctx, std::map<std::string, std::string> keys,
    std::map<std::string, std::string> consumer_keys) {
  HW_ASSIGN_OR_RETURN(KeyIndex index, IndexKeys(keys));
  HW_ASSIGN_OR_RETURN(KeyIndex consumer_index, IndexKeys(consumer_keys));
  zmq::socket_t socket;
  try {
    socket = zmq::socket_t(ctx, zmq::socket_type::rep);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE) {
      return Status::FailedPrecondition(std::string("another ZAP handler is bound to ") +
                                        kZapEndpoint + " in this context");
    }
    return Status::Unavailable(std::string("ZAP handler: bind ") + kZapEndpoint + ": " + e.what());
  }
  // An eventfd rather than a second ZeroMQ socket: the destructor's thread can write it without
  // owning a socket, and zmq_poll waits on plain descriptors too.
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return Status::IoError("ZAP handler: eventfd", errno);
  spdlog::info("CURVE: ZAP handler started with {} producer and {} consumer key(s)", keys.size(),
               consumer_keys.size());
  return std::unique_ptr<ZapHandler>(
      new ZapHandler(std::move(socket), wake_fd, std::move(index), std::move(consumer_index)));
}

ZapHandler::ZapHandler(zmq::socket_t socket, int wake_fd, KeyIndex index, KeyIndex consumer_index)
    : socket_(std::move(socket)),
      wake_fd_(wake_fd),
      index_(std::move(index)),
      consumer_index_(std::move(consumer_index)),
      deny_log_(std::chrono::seconds(10)),
      thread_([this] { Run(); }) {}

ZapHandler::~ZapHandler() {
  const uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
  thread_.join();
  ::close(wake_fd_);
}

bool ZapHandler::Reload(std::map<std::string, std::string> keys,
                        std::map<std::string, std::string> consumer_keys) {
  Result<KeyIndex> index = IndexKeys(keys);
  Result<KeyIndex> consumer_index = IndexKeys(consumer_keys);
  if (!index.ok() || !consumer_index.ok()) {
    spdlog::error("CURVE: reload refused, keeping the authorized keys in use: {}",
                  (index.ok() ? consumer_index.status() : index.status()).message());
    return false;
  }
  // A key is taken away when its raw key is no longer authorized under the same name and role.
  auto lost = [](const KeyIndex& before, const KeyIndex& after) {
    for (const auto& [raw, name] : before) {
      auto it = after.find(raw);
      if (it == after.end() || it->second != name) return true;
    }
    return false;
  };
  bool revoked = false;
  {
    MutexLock lock(&mu_);
    revoked = lost(index_, *index) || lost(consumer_index_, *consumer_index);
    index_.swap(*index);
    consumer_index_.swap(*consumer_index);
  }
  spdlog::info("CURVE: {} producer and {} consumer key(s) after reload{}", keys.size(),
               consumer_keys.size(),
               revoked ? "; a key was revoked: closing live connections" : "");
  return revoked;
}

void ZapHandler::Run() {
  std::array<zmq::pollitem_t, 2> items = {{
      {socket_.handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, wake_fd_, ZMQ_POLLIN, 0},
  }};
  for (;;) {
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) break;
      if (items[0].revents & ZMQ_POLLIN) AnswerOne();
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      // ETERM: the context is shutting down. Anything else leaves the REP unable to answer;
      // either way libzmq then refuses CURVE handshakes, because domain enforcement is on.
      if (e.num() != ETERM) {
        spdlog::error("CURVE: ZAP handler stopped ({}); new connections will be refused", e.what());
      }
      break;
    }
  }
  // Closed here rather than in the destructor so that a context being terminated under us can
  // finish (zmq_ctx_term waits for every socket).
  socket_.close();
}

void ZapHandler::AnswerOne() {
  std::vector<zmq::message_t> request;
  if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
    return;
  }
  // RFC 27 request: version, request id, domain, address, identity, mechanism, credentials...
  auto frame = [&request](size_t i) {
    return i < request.size() ? View(request[i]) : std::string_view();
  };
  std::string user_id;
  std::string refusal;  // empty: accepted
  if (request.size() < 6) {
    refusal = "malformed ZAP request (" + std::to_string(request.size()) + " frames)";
  } else if (frame(0) != kZapVersion) {
    refusal = "unsupported ZAP version '" + std::string(frame(0)) + "'";
  } else if (frame(2) != kZapDomain && frame(2) != kZapConsumerDomain) {
    refusal = "domain '" + std::string(frame(2)) + "' is not a hostwatch domain";
  } else if (frame(5) != "CURVE") {
    refusal = "mechanism " + std::string(frame(5)) + " is not allowed (CURVE only)";
  } else if (request.size() != 7 || frame(6).size() != kCurveKeyBytes) {
    refusal = "malformed CURVE credentials";
  } else {
    // The socket's domain says which role it serves: a producer key is unknown on the backend
    // and the tap, a consumer key on the frontend.
    const bool consumer = frame(2) == kZapConsumerDomain;
    MutexLock lock(&mu_);
    const KeyIndex& index = consumer ? consumer_index_ : index_;
    auto it = index.find(std::string(frame(6)));
    if (it != index.end()) {
      user_id = it->second;
    } else {
      refusal = std::string(consumer ? "not a consumer key: " : "not a producer key: ") +
                transport::EncodeZ85Key(frame(6));
    }
  }

  const bool ok = refusal.empty();
  if (ok) {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("CURVE: accepted key {} from {}", user_id, frame(3));
  } else {
    denied_.fetch_add(1, std::memory_order_relaxed);
    if (std::optional<uint64_t> held_back = deny_log_.Allow()) {
      spdlog::warn("CURVE: refused a connection from {}: {} ({} more refused since last reported)",
                   frame(3), refusal, *held_back);
    }
  }
  // Reply: version, request id (echoed), status code, status text, user id, metadata. libzmq
  // rejects a reply with any other shape, which would also refuse the client, but say so plainly.
  const std::array<zmq::const_buffer, 6> reply = {
      zmq::buffer(kZapVersion),
      zmq::buffer(frame(1)),
      zmq::buffer(std::string_view(ok ? "200" : "400")),
      zmq::buffer(std::string_view(ok ? "OK" : "Access denied")),
      zmq::buffer(std::string_view(user_id)),
      zmq::buffer(std::string_view()),
  };
  zmq::send_multipart(socket_, reply);
}

// ---- socket setup ----

Status MakeCurveServer(zmq::socket_t& socket, const CurveServerConfig& config,
                       std::string_view domain) {
  HW_RETURN_IF_ERROR(RequireCurve());
  if (config.secret_key_file.empty()) {
    return Status::InvalidArgument("curve.secret_key_file is not set");
  }
  Result<std::string> secret = transport::ReadZ85KeyFile(config.secret_key_file);
  if (!secret.ok()) return secret.status().WithContext("curve.secret_key_file");
  if (!config.public_key_file.empty()) {
    Result<std::string> pub = transport::ReadZ85KeyFile(config.public_key_file);
    if (!pub.ok()) return pub.status().WithContext("curve.public_key_file");
    HW_RETURN_IF_ERROR(transport::CheckCurveKeyPair(*secret, *pub, config.secret_key_file,
                                                    config.public_key_file));
  }
  try {
    socket.set(zmq::sockopt::curve_server, true);
    socket.set(zmq::sockopt::curve_secretkey, *secret);
    socket.set(zmq::sockopt::zap_domain, domain);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("CURVE server options: ") + e.what());
  }
  const int one = 1;
  int enforced = 0;
  size_t enforced_size = sizeof enforced;
  if (zmq_setsockopt(socket.handle(), kZapEnforceDomainOption, &one, sizeof one) != 0 ||
      zmq_getsockopt(socket.handle(), kZapEnforceDomainOption, &enforced, &enforced_size) != 0 ||
      enforced != 1) {
    return Status::FailedPrecondition(
        "this libzmq does not support ZMQ_ZAP_ENFORCE_DOMAIN; refusing to run CURVE without it "
        "(a missing ZAP handler would admit every client)");
  }
  return Status::Ok();
}

Status MakeCurveClient(zmq::socket_t& socket, const transport::CurveClientConfig& config) {
  HW_RETURN_IF_ERROR(RequireCurve());
  Result<transport::CurveClientKeys> keys = transport::LoadCurveClientKeys(config);
  if (!keys.ok()) return keys.status().WithContext("curve");
  HW_RETURN_IF_ERROR(transport::CheckCurveKeyPair(keys->secret_key, keys->public_key,
                                                  config.secret_key_file, config.public_key_file));
  return transport::ApplyCurveClientKeys(socket.handle(), *keys);
}

// ---- bindings ----

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Greedy with one backtrack point: on a mismatch, the last '*' absorbs one more character.
  // Linear in practice, never exponential, and no regex engine for a two-character language.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;  // pattern index of the last '*' seen
  size_t star_t = 0;                     // text index that '*' currently matches up to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool KeyMayPublishFor(const std::map<std::string, std::vector<std::string>>& bindings,
                      std::string_view key_name, std::string_view endpoint) {
  auto it = bindings.find(std::string(key_name));
  if (it == bindings.end()) return endpoint == key_name;  // fail closed: only its own name
  for (const std::string& glob : it->second) {
    if (GlobMatch(glob, endpoint)) return true;
  }
  return false;
}

bool KeyMayReadGroup(const std::map<std::string, std::vector<std::string>>& group_bindings,
                     std::string_view key_name, std::string_view group) {
  return KeyMayPublishFor(group_bindings, key_name, group);  // the same rule over group names
}

}  // namespace hw::broker
