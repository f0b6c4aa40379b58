// Producer link: spool first, then go-back-N over one DEALER socket (docs/wire_format.md §4).
//
// Numbering (docs/decisions/002-producer-link-spool.md): the spool stores each envelope without its
// header (only sent_ms and the body); a record's seq is its spool index minus `base`, and the frame
// on the wire is a serialized Envelope{source, epoch, seq} followed by the stored bytes (protobuf
// merges concatenated messages). (epoch, base) live in the spool's meta file. When records vanish
// before the broker acked them (drop-oldest on a full spool, a CRC-failed record, a broker that
// lost what it had acked), the stream could never be completed under the old epoch, so the link
// starts a new epoch whose seq 1 is the oldest record it still holds, and logs how many were lost.
//
// Threads: Publish appends under mu_ and wakes the link thread through an eventfd (written only
// when no wake-up is pending, so a burst of Publish calls costs one write). The link thread polls
// the socket and the eventfd, handles acks and timers under mu_, builds frames under mu_ and sends
// them outside it. ZMQ_IMMEDIATE keeps frames out of libzmq while no broker is connected; they stay
// in the spool, and POLLOUT tells the thread when a connection is up again.
#include "common/transport/producer_link.h"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "common/base/mutex.h"
#include "common/daemon/logging.h"
#include "common/naming/envelope_wire.h"
#include "common/naming/naming.h"
#include "common/spool/spool.h"
#include "common/strings/fnv1a.h"
#include "common/strings/strings.h"
#include "common/transport/endpoint.h"
#include "common/transport/zmq_socket.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::transport {
namespace {

namespace pb = hostwatch::v1;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The broker's default max_message_bytes (wire_format.md §7). libzmq drops a bigger frame without
// an Ack, so such a record would be resent forever: refuse it in Publish instead.
constexpr size_t kMaxEnvelopeBytes = 4u << 20;
constexpr int kHighWaterMark = 100000;
constexpr milliseconds kErrorPause{50};              // after a failed zmq_poll: never spin
constexpr milliseconds kMaxPollTimeout{1000};        // the longest sleep, even with no timer due
constexpr milliseconds kLogPeriod{10000};            // RepeatLimiter period for repeated problems
constexpr std::chrono::minutes kFailbackAfter{5};    // try the preferred broker again after this
constexpr std::chrono::seconds kAuthRetryAfter{10};  // reopen a socket whose CURVE key was refused
constexpr std::string_view kMetaMagic = "hostwatch producer spool v1";

// Appends Envelope.sent_ms (field 4, varint) to serialized envelope bytes.
void AppendSentMs(int64_t ms, std::string* bytes) {
  bytes->push_back(static_cast<char>((4 << 3) | 0));
  auto v = static_cast<uint64_t>(ms);
  while (v >= 0x80) {
    bytes->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  bytes->push_back(static_cast<char>(v));
}

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t RandomEpoch(uint64_t avoid) {
  std::random_device rd;
  for (;;) {
    const uint64_t e = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    if (e != 0 && e != avoid) return e;
  }
}

// "hostwatch producer spool v1\nepoch <16 hex>\nbase <decimal>\n"
struct Meta {
  uint64_t epoch = 0;
  uint64_t base = 0;
};

std::string EncodeMeta(const Meta& m) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s\nepoch %016llx\nbase %llu\n", kMetaMagic.data(),
                static_cast<unsigned long long>(m.epoch), static_cast<unsigned long long>(m.base));
  return buf;
}

std::optional<Meta> DecodeMeta(std::string_view text) {
  auto take_line = [&text]() {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return line;
  };
  auto parse = [](std::string_view line, std::string_view key, int base, uint64_t* out) {
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ')
      return false;
    std::optional<uint64_t> v = strings::ParseNumber<uint64_t>(line.substr(key.size() + 1), base);
    if (v) *out = *v;
    return v.has_value();
  };
  Meta m;
  if (take_line() != kMetaMagic) return std::nullopt;
  if (!parse(take_line(), "epoch", 16, &m.epoch) || m.epoch == 0) return std::nullopt;
  if (!parse(take_line(), "base", 10, &m.base)) return std::nullopt;
  return m;
}

// One ZeroMQ context for every link in the process (loadgen runs hundreds): created with the first
// link, terminated with the last.
struct SharedContextState {
  Mutex mu;
  std::weak_ptr<void> weak GUARDED_BY(mu);
};

std::shared_ptr<void> SharedContext() {
  static auto* state = new SharedContextState;  // leaked on purpose: no exit-time destructor
  MutexLock lock(&state->mu);
  std::shared_ptr<void> ctx = state->weak.lock();
  if (!ctx) {
    void* raw = zmq_ctx_new();
    if (raw == nullptr) return nullptr;
    ctx = std::shared_ptr<void>(raw, [](void* c) { zmq_ctx_term(c); });
    state->weak = ctx;
  }
  return ctx;
}

// FNV-1a's last bytes reach the high bits only weakly; a finaliser (splitmix64) evens that out.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

std::string ZmqError(std::string_view what) { return std::string(what) + ": " + ZmqErrorText(); }

}  // namespace

size_t PreferredBroker(std::string_view endpoint, size_t broker_count) {
  // Rendezvous (highest random weight) hashing: each host ranks the brokers by hash(endpoint, i)
  // and takes the top one. Adding a broker moves only the hosts that now rank it first.
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

struct ProducerLink::Impl {
  ProducerOptions options;
  std::string source;
  std::string validation_header;  // Envelope{source, seq: 1}, serialized: Publish validates with it
  std::optional<CurveClientKeys> curve;
  std::shared_ptr<void> ctx;
  int wake_fd = -1;
  std::atomic<bool> wake_pending{false};
  std::thread thread;
  bool thread_started = false;  // Stop() only; not shared

  mutable Mutex mu;
  CondVar settled_cv;  // signalled when base + acked_seq grows
  // The members from here to the link thread's are guarded by mu.
  std::unique_ptr<spool::Spool> spool GUARDED_BY(mu);
  uint64_t epoch GUARDED_BY(mu) = 0;
  uint64_t base GUARDED_BY(mu) = 0;          // seq = spool index - base
  uint64_t acked_seq GUARDED_BY(mu) = 0;     // cumulative, in `epoch`
  uint64_t next_seq GUARDED_BY(mu) = 1;      // the next seq to send
  uint64_t max_sent_seq GUARDED_BY(mu) = 0;  // highest seq sent in this epoch (to count resends)
  // The GAP acked_seq we already went back for.
  std::optional<uint64_t> went_back_for GUARDED_BY(mu);
  bool release_pending GUARDED_BY(mu) = false;
  // A missing or unreadable record BuildFrames stopped at (0: none).
  uint64_t stuck_index GUARDED_BY(mu) = 0;
  // Spool stats().dropped_records when last checked.
  uint64_t seen_spool_dropped GUARDED_BY(mu) = 0;
  // Unacked records gone from the spool (ProducerStats.spool_dropped).
  uint64_t lost GUARDED_BY(mu) = 0;
  uint64_t published GUARDED_BY(mu) = 0;
  uint64_t acked GUARDED_BY(mu) = 0;
  uint64_t rejected GUARDED_BY(mu) = 0;
  uint64_t resent GUARDED_BY(mu) = 0;
  size_t broker_index GUARDED_BY(mu) = 0;
  bool appended_since_sync GUARDED_BY(mu) = false;
  bool stopping GUARDED_BY(mu) = false;
  bool stopped GUARDED_BY(mu) = false;
  pb::Envelope header GUARDED_BY(mu);  // source set once; epoch and seq per frame
  // The last ack progress, or the last send of acked_seq + 1.
  Clock::time_point last_progress GUARDED_BY(mu);
  daemon::RepeatLimiter reject_log GUARDED_BY(mu){kLogPeriod};
  daemon::RepeatLimiter error_log GUARDED_BY(mu){kLogPeriod};
  // --- link thread only (and Start, before the thread exists) ---
  ZmqSocket socket;
  std::optional<SocketMonitor> monitor;  // the socket's connection events (none: just not logged)
  // When the broker's ZAP handler refused our key on the current socket (link thread only).
  std::optional<Clock::time_point> auth_refused_at;
  daemon::RepeatLimiter connection_log{kLogPeriod};
  Clock::time_point waiting_since;  // unacked records and no ack from the broker since then
  bool had_unacked = false;
  Clock::time_point connected_since;
  Clock::time_point last_sync;

  ~Impl() {
    CloseSocket();
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void Wake() {
    const uint64_t one = 1;
    ssize_t n = ::write(wake_fd, &one, sizeof one);
    (void)n;  // EAGAIN only when the counter is saturated: the thread is awake anyway
  }

  uint64_t SettledIndex() const REQUIRES(mu) { return base + acked_seq; }

  // How long the link thread may sleep in zmq_poll: until the earliest timer that can fall due
  // (resend, failover, CURVE retry, failback, spool sync), at most kMaxPollTimeout. Publish, acks,
  // POLLOUT, connection events and Stop wake the thread by themselves, so a producer that
  // publishes once a second wakes a few times a second, not every 50 ms. Link thread only (it
  // reads the thread's own timers).
  milliseconds PollTimeout(Clock::time_point now, size_t brokers, size_t preferred) const
      REQUIRES(mu);

  Status OpenSocket(size_t index);
  void CloseSocket();
  void LogConnectionEvents();
  void Run() EXCLUDES(mu);

  void StartEpoch(uint64_t new_base, std::string_view why) REQUIRES(mu);
  void CheckLost() REQUIRES(mu);
  void HandleAck(const pb::Ack& ack, Clock::time_point now) REQUIRES(mu);
  void Advance(uint64_t to, bool rejected_last, Clock::time_point now) REQUIRES(mu);
  void BuildFrames(std::vector<std::string>* frames, uint64_t* first_seq) REQUIRES(mu);
  // True when the window has room and a spooled record is not yet sent; *caught_up when the
  // window has room and every record is sent.
  bool CanSend(bool* caught_up) const REQUIRES(mu) {
    const bool room = next_seq - acked_seq - 1 < std::max<uint32_t>(options.link.window, 1);
    const bool pending = base + next_seq < spool->next_index() && stuck_index != base + next_seq;
    *caught_up = room && !pending;
    return room && pending;
  }
};

Status ProducerLink::Impl::OpenSocket(size_t index) {
  const std::string& broker = options.link.brokers[index];
  ZmqSocket s(zmq_socket(ctx.get(), ZMQ_DEALER));
  if (s.get() == nullptr) return Status::Internal(ZmqError("zmq_socket"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_SNDHWM, kHighWaterMark, "ZMQ_SNDHWM"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RCVHWM, kHighWaterMark, "ZMQ_RCVHWM"));
  // Nothing queues inside libzmq while no broker is connected: records wait in the spool.
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RECONNECT_IVL, 100, "ZMQ_RECONNECT_IVL"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_RECONNECT_IVL_MAX, 1000, "ZMQ_RECONNECT_IVL_MAX"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_HEARTBEAT_IVL, 1000, "ZMQ_HEARTBEAT_IVL"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_HEARTBEAT_TIMEOUT, 3000, "ZMQ_HEARTBEAT_TIMEOUT"));
  HW_RETURN_IF_ERROR(SetSocketInt(s.get(), ZMQ_HEARTBEAT_TTL, 3000, "ZMQ_HEARTBEAT_TTL"));
  if (curve) HW_RETURN_IF_ERROR(ApplyCurveClientKeys(s.get(), *curve));
  // Connection events only feed the log (an operator's first question when the spool grows is
  // "are we connected?") and the retry after a refused key; without a monitor the link works the
  // same.
  std::optional<SocketMonitor> m;
  if (Result<SocketMonitor> attached = SocketMonitor::Attach(
          ctx.get(), s.get(),
          ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
              ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
              ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
      attached.ok()) {
    m.emplace(std::move(attached).value());
  }
  if (zmq_connect(s.get(), broker.c_str()) != 0) {
    return Status::InvalidArgument(ZmqError("connect " + broker));
  }
  CloseSocket();
  socket = std::move(s);
  monitor = std::move(m);
  connected_since = Clock::now();
  waiting_since = connected_since;
  return Status::Ok();
}

void ProducerLink::Impl::StartEpoch(uint64_t new_base, std::string_view why) {
  const uint64_t old = epoch;
  epoch = RandomEpoch(old);
  base = new_base;
  acked_seq = 0;
  next_seq = 1;
  max_sent_seq = 0;
  went_back_for.reset();
  header.set_epoch(epoch);
  if (Status st = spool->WriteMeta(EncodeMeta({epoch, base})); !st.ok()) {
    // Carry on in memory; after a restart the old epoch is resumed and the broker's GAP answer
    // (it has less than we released) brings us back here.
    spdlog::error("{}: cannot store the new epoch: {}", source, st.ToString());
  }
  if (old != 0) {
    spdlog::warn("{}: new epoch {:016x} (was {:016x}), seq 1 is spool record {}: {}", source, epoch,
                 old, base + 1, why);
  }
  settled_cv.SignalAll();
}

void ProducerLink::Impl::CheckLost() {
  const uint64_t settled = SettledIndex();
  const uint64_t first = spool->first_index();
  if (first <= settled + 1) return;
  // Records settled+1 .. first-1 are gone and the broker never acked them: no seq can cover them.
  const uint64_t gone = first - 1 - settled;
  lost += gone;
  StartEpoch(first - 1, std::to_string(gone) +
                            " records were lost before the broker acked them (spool full "
                            "at spool_max_bytes " +
                            std::to_string(options.link.spool_max_bytes) + ", or corrupt)");
}

void ProducerLink::Impl::Advance(uint64_t to, bool rejected_last, Clock::time_point now) {
  const uint64_t n = to - acked_seq;
  acked += rejected_last ? n - 1 : n;
  if (rejected_last) ++rejected;
  acked_seq = to;
  next_seq = std::max(next_seq, to + 1);
  went_back_for.reset();
  last_progress = now;
  release_pending = true;
  settled_cv.SignalAll();
}

void ProducerLink::Impl::HandleAck(const pb::Ack& ack, Clock::time_point now) {
  if (ack.source() != source || ack.epoch() != epoch) return;  // stale: an older epoch or source
  const uint64_t a = ack.acked_seq();
  const uint64_t highest = spool->next_index() - 1 - base;  // highest seq that exists
  if (a > highest) {
    if (auto n = error_log.Allow(now)) {
      spdlog::warn("{}: ignoring an ack for seq {} beyond the last seq {} ({} more since)", source,
                   a, highest, *n);
    }
    return;
  }
  switch (ack.status()) {
    case pb::Ack::REJECTED:
      if (a > acked_seq) {
        Advance(a, /*rejected_last=*/true, now);
        if (auto n = reject_log.Allow(now)) {
          spdlog::warn("{}: broker rejected seq {} of epoch {:016x}, dropped: {} ({} more since)",
                       source, a, epoch, ack.error(), *n);
        }
      }
      break;
    case pb::Ack::GAP:
      if (a > acked_seq) Advance(a, false, now);
      if (a < acked_seq) {
        // The broker has less than it acked before (it lost its tail, or it is another broker
        // that saw this epoch long ago). The records after `a` that we released are gone from
        // here too: only a new epoch can continue.
        StartEpoch(SettledIndex(), "broker " + options.link.brokers[broker_index] + " is at seq " +
                                       std::to_string(a) + " but had acked " +
                                       std::to_string(acked_seq));
        return;
      }
      if (next_seq > a + 1 && went_back_for != a) {
        next_seq = a + 1;
        went_back_for = a;
      }
      break;
    case pb::Ack::OK:
      if (a > acked_seq) Advance(a, false, now);
      break;
    default:  // not an Ack from a broker we understand: acking on its word could lose data
      if (auto n = error_log.Allow(now)) {
        spdlog::warn("{}: ignoring an ack with unknown status {} ({} more since)", source,
                     static_cast<int>(ack.status()), *n);
      }
      break;
  }
}

void ProducerLink::Impl::BuildFrames(std::vector<std::string>* frames, uint64_t* first_seq) {
  *first_seq = next_seq;
  const uint64_t window = std::max<uint32_t>(options.link.window, 1);
  const uint64_t in_flight = next_seq - acked_seq - 1;
  if (in_flight >= window || base + next_seq >= spool->next_index()) return;
  const size_t room = static_cast<size_t>(window - in_flight);
  const size_t before = frames->size();
  // The callback runs inside Read, so with mu held; REQUIRES says so to the analysis, which sees a
  // lambda as a function of its own.
  Status st =
      spool->Read(base + next_seq, room, [&](uint64_t index, std::string_view bytes) REQUIRES(mu) {
        if (index != base + next_seq) return false;  // a hole: see below
        header.set_seq(next_seq);
        std::string frame;
        frame.reserve(header.ByteSizeLong() + bytes.size());
        header.AppendToString(&frame);
        frame.append(bytes);
        frames->push_back(std::move(frame));
        ++next_seq;
        return true;
      });
  if (frames->size() - before < room && base + next_seq < spool->next_index()) {
    // Stopped short of the window and of the spool's end: a hole (a record lost to corruption or
    // a failed write) or a read error. Send nothing past it until next_seq moves: the acks reach
    // the hole and CheckLost starts a new epoch there, or the resend timer retries a read.
    stuck_index = base + next_seq;
  }
  if (!st.ok()) {
    if (auto n = error_log.Allow()) {
      spdlog::error("{}: reading the spool: {} ({} more since)", source, st.ToString(), *n);
    }
  }
}

void ProducerLink::Impl::CloseSocket() {
  monitor.reset();
  socket.Close();
}

void ProducerLink::Impl::LogConnectionEvents() {
  while (std::optional<MonitorEvent> ev = monitor->Next()) {
    const uint16_t event = ev->id;
    const uint32_t value = ev->value;
    const std::string_view peer = ev->peer;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      spdlog::info("{}: connected to broker {}", source, peer);
      auth_refused_at.reset();
      continue;
    }
    // libzmq never retries a connection the broker's ZAP handler refused (a 400 is final for that
    // socket), so remember it: Run() opens a fresh socket later, in case our key was authorized in
    // the meantime (the broker reloads authorized_keys_dir on SIGHUP).
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !auth_refused_at)
      auth_refused_at = Clock::now();
    std::optional<uint64_t> n = connection_log.Allow();
    if (!n) continue;
    switch (event) {
      case ZMQ_EVENT_DISCONNECTED:
        spdlog::warn(
            "{}: lost the connection to broker {}; spooling and reconnecting ({} more "
            "since)",
            source, peer, *n);
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        spdlog::error(
            "{}: broker {} refused our CURVE key (ZAP status {}): is our .pub in its "
            "authorized_keys_dir? ({} more since)",
            source, peer, value, *n);
        break;
      default:
        spdlog::error(
            "{}: handshake with broker {} failed (CURVE on one side only, or the wrong "
            "server key?) ({} more since)",
            source, peer, *n);
        break;
    }
  }
}

milliseconds ProducerLink::Impl::PollTimeout(Clock::time_point now, size_t brokers,
                                             size_t preferred) const {
  Clock::time_point due = now + kMaxPollTimeout;
  auto consider = [&due](Clock::time_point t) { due = std::min(due, t); };
  const bool unacked = SettledIndex() + 1 < spool->next_index();
  // The same conditions as the checks in Run(); a timer that cannot fire is not waited for.
  if (next_seq > acked_seq + 1 || stuck_index != 0)
    consider(last_progress + options.resend_timeout);
  if (brokers > 1 && unacked) consider(waiting_since + options.failover_after);
  if (auth_refused_at) consider(*auth_refused_at + kAuthRetryAfter);
  if (broker_index != preferred && !unacked) consider(connected_since + kFailbackAfter);
  if (appended_since_sync) consider(last_sync + options.spool_sync_interval);
  if (due <= now) return milliseconds(0);
  // Rounded up, plus 1 ms: the checks compare with '>', and waking a hair before a timer would
  // only cost another zero-timeout round.
  return std::chrono::ceil<milliseconds>(due - now) + milliseconds(1);
}

void ProducerLink::Impl::Run() {
  const size_t brokers = options.link.brokers.size();
  const size_t preferred = PreferredBroker(options.endpoint, brokers);
  std::vector<pb::Ack> acks;
  std::vector<std::string> frames;
  bool caught_up = false;
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  last_sync = Clock::now();
  spool::Spool::SyncBatch sync_batch;
  for (;;) {
    bool want_out = false;
    milliseconds timeout{0};
    {
      MutexLock lock(&mu);
      if (stopping) break;
      want_out = CanSend(&caught_up);
      timeout = PollTimeout(Clock::now(), brokers, preferred);
    }
    if (caught_up) {
      // Everything spooled is sent and the window has room: from now on a Publish must wake us.
      // Cleared only here, so a burst of Publish calls while we are busy (or while the window is
      // full, or no broker is connected) costs no eventfd write; acks and POLLOUT wake us then.
      // Cleared before re-checking the spool, so a record appended in between is seen below or
      // its Publish sees the flag cleared and writes.
      wake_pending.store(false);
      MutexLock lock(&mu);
      want_out = CanSend(&caught_up);
    }
    zmq_pollitem_t items[3] = {
        {socket.get(), 0, static_cast<short>(ZMQ_POLLIN | (want_out ? ZMQ_POLLOUT : 0)), 0},
        {nullptr, wake_fd, ZMQ_POLLIN, 0},
        {monitor ? monitor->get() : nullptr, 0, ZMQ_POLLIN, 0}};
    const int nitems = monitor ? 3 : 2;
    if (zmq_poll(items, nitems, static_cast<long>(timeout.count())) < 0 && zmq_errno() != EINTR) {
      spdlog::error("{}: {}", source, ZmqError("zmq_poll"));
      std::this_thread::sleep_for(kErrorPause);  // never spin on a persistent error
    }
    if (items[1].revents & ZMQ_POLLIN) {
      uint64_t count;
      ssize_t n = ::read(wake_fd, &count, sizeof count);
      (void)n;
    }
    if (nitems == 3 && (items[2].revents & ZMQ_POLLIN)) LogConnectionEvents();

    acks.clear();
    bool heard = false;
    while (zmq_msg_recv(&msg, socket.get(), ZMQ_DONTWAIT) >= 0) {
      heard = true;
      pb::Ack ack;
      if (ack.ParseFromArray(zmq_msg_data(&msg), static_cast<int>(zmq_msg_size(&msg)))) {
        acks.push_back(std::move(ack));
      }
    }

    const Clock::time_point now = Clock::now();
    bool failover = false;
    size_t reopen_index = 0;
    uint64_t frames_epoch = 0;
    uint64_t first_seq = 0;
    frames.clear();
    {
      MutexLock lock(&mu);
      for (const pb::Ack& ack : acks) HandleAck(ack, now);
      if (release_pending) {
        release_pending = false;
        if (Status st = spool->Release(SettledIndex()); !st.ok()) {
          if (auto n = error_log.Allow(now)) {
            spdlog::error("{}: releasing the spool: {} ({} more since)", source, st.ToString(), *n);
          }
        }
      }
      CheckLost();

      const bool unacked = SettledIndex() + 1 < spool->next_index();
      if (heard || !unacked || !had_unacked) waiting_since = now;
      had_unacked = unacked;
      if ((next_seq > acked_seq + 1 || stuck_index != 0) &&
          now - last_progress > options.resend_timeout) {
        // No progress for resend_timeout: go back to the first unacked record (and retry a read
        // that failed).
        next_seq = acked_seq + 1;
        went_back_for.reset();
        stuck_index = 0;
        last_progress = now;
      }
      if (brokers > 1 && unacked && now - waiting_since > options.failover_after) {
        failover = true;
        reopen_index = (broker_index + 1) % brokers;
        spdlog::warn("{}: no ack from broker {} for {} ms; failing over to {}", source,
                     options.link.brokers[broker_index], options.failover_after.count(),
                     options.link.brokers[reopen_index]);
      } else if (auth_refused_at && now - *auth_refused_at > kAuthRetryAfter) {
        failover = true;
        reopen_index = brokers > 1 ? (broker_index + 1) % brokers : broker_index;
        spdlog::info("{}: retrying after our CURVE key was refused, with broker {}", source,
                     options.link.brokers[reopen_index]);
      } else if (broker_index != preferred && !unacked && now - connected_since > kFailbackAfter) {
        failover = true;
        reopen_index = preferred;
        spdlog::info("{}: trying the preferred broker {} again", source,
                     options.link.brokers[preferred]);
      }
      if (appended_since_sync && now - last_sync >= options.spool_sync_interval) {
        appended_since_sync = false;
        last_sync = now;
        // Flushed below, outside the lock: an fdatasync takes milliseconds, and Publish must
        // not wait for it (it showed in the p99 latency of bench/broker.sh).
        Result<spool::Spool::SyncBatch> batch = spool->TakeSyncBatch();
        if (batch.ok()) {
          sync_batch = std::move(batch).value();
        } else if (auto n = error_log.Allow(now)) {
          spdlog::error("{}: syncing the spool: {} ({} more since)", source,
                        batch.status().ToString(), *n);
        }
      }
      // Frames are built only when the socket takes them (ZMQ_IMMEDIATE: a broker is connected).
      if (!failover && (items[0].revents & ZMQ_POLLOUT)) BuildFrames(&frames, &first_seq);
      frames_epoch = epoch;
    }

    if (!sync_batch.empty()) {
      if (Status st = sync_batch.Run(); !st.ok()) {
        MutexLock lock(&mu);  // error_log is mu's too
        if (auto n = error_log.Allow(now)) {
          spdlog::error("{}: syncing the spool: {} ({} more since)", source, st.ToString(), *n);
        }
        spool->MarkUnsynced();  // the next sync flushes everything again
        appended_since_sync = true;
      }
      sync_batch = spool::Spool::SyncBatch();
    }

    if (failover) {
      auth_refused_at.reset();
      if (Status st = OpenSocket(reopen_index); !st.ok()) {
        waiting_since = now;  // keep the old socket; try again after another failover_after
        spdlog::error("{}: {}", source, st.ToString());
        continue;
      }
      MutexLock lock(&mu);
      broker_index = reopen_index;
      next_seq = acked_seq + 1;  // what was in flight on the old socket is resent
      went_back_for.reset();
      stuck_index = 0;
      continue;
    }
    if (frames.empty()) continue;

    size_t sent = 0;
    for (const std::string& f : frames) {
      if (zmq_send(socket.get(), f.data(), f.size(), ZMQ_DONTWAIT) < 0)
        break;  // EAGAIN: not connected
      ++sent;
    }
    MutexLock lock(&mu);
    if (epoch != frames_epoch) continue;    // Publish re-epoched meanwhile: those frames are void
    const uint64_t end = first_seq + sent;  // one past the last seq actually sent
    if (sent > 0) {
      if (first_seq <= max_sent_seq) resent += std::min(end - 1, max_sent_seq) - first_seq + 1;
      max_sent_seq = std::max(max_sent_seq, end - 1);
      if (first_seq == acked_seq + 1) last_progress = now;  // the resend timer starts here
    }
    if (sent < frames.size()) next_seq = std::min(next_seq, end);
  }
  zmq_msg_close(&msg);
  CloseSocket();
}

ProducerLink::ProducerLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProducerLink::~ProducerLink() { Stop(milliseconds(0)); }

Result<std::unique_ptr<ProducerLink>> ProducerLink::Start(const ProducerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->source = options.endpoint + "/" + options.component;
  HW_RETURN_IF_ERROR(naming::ValidateSource(impl->source).WithContext("producer link"));
  {
    pb::Envelope header;
    header.set_source(impl->source);
    header.set_seq(1);
    impl->validation_header = header.SerializeAsString();
  }
  if (options.link.brokers.empty()) {
    return Status::InvalidArgument("producer link: link.brokers is empty");
  }
  for (const std::string& b : options.link.brokers) {
    HW_RETURN_IF_ERROR(ParseEndpoint(b).status().WithContext("link.brokers"));
  }
  if (options.link.spool_dir.empty()) {
    return Status::InvalidArgument("producer link: link.spool_dir is empty");
  }
  if (options.link.curve.enabled) {
    HW_ASSIGN_OR_RETURN(CurveClientKeys keys, LoadCurveClientKeys(options.link.curve));
    impl->curve = std::move(keys);
  }

  {
    // No other thread can see impl yet; the lock is taken because these members are mu's, and
    // costs nothing here.
    MutexLock lock(&impl->mu);
    spool::SpoolOptions so;
    so.dir = options.link.spool_dir;
    so.max_bytes = options.link.spool_max_bytes;
    // At least four segments fit under max_bytes, so that drop-oldest sheds a quarter at most.
    so.segment_bytes = std::clamp<uint64_t>(options.link.spool_max_bytes / 4, 1,
                                            std::max<uint64_t>(options.spool_segment_bytes, 1));
    Result<std::unique_ptr<spool::Spool>> opened = spool::Spool::Open(so);
    if (!opened.ok()) return opened.status().WithContext("producer spool");
    impl->spool = std::move(opened).value();

    // (epoch, base) from the meta file; a new (or unreadable) meta starts a new epoch at the oldest
    // record still held, which the broker accepts as a stream it has never seen.
    Result<std::string> meta_text = impl->spool->ReadMeta();
    if (!meta_text.ok()) return meta_text.status().WithContext("producer spool meta");
    std::optional<Meta> meta = DecodeMeta(*meta_text);
    const uint64_t first = impl->spool->first_index();
    impl->header.set_source(impl->source);
    if (meta && meta->base + 1 <= first) {
      impl->epoch = meta->epoch;
      impl->base = meta->base;
      impl->header.set_epoch(impl->epoch);
      // Everything below the first readable record was released, i.e. acked. (Or it is missing from
      // a corrupt spool: the broker then answers GAP below our ack, and HandleAck starts a new
      // epoch.)
      impl->acked_seq = first - 1 - impl->base;
      impl->next_seq = impl->acked_seq + 1;
    } else {
      if (!meta_text->empty()) {
        spdlog::warn("{}: spool meta in {} is unreadable or inconsistent; starting a new epoch",
                     impl->source, options.link.spool_dir);
      }
      Meta fresh{RandomEpoch(0), first - 1};
      HW_RETURN_IF_ERROR(
          impl->spool->WriteMeta(EncodeMeta(fresh)).WithContext("producer spool meta"));
      impl->epoch = fresh.epoch;
      impl->base = fresh.base;
      impl->header.set_epoch(impl->epoch);
    }
    impl->seen_spool_dropped = impl->spool->stats().dropped_records;
    const spool::SpoolStats ss = impl->spool->stats();
    if (ss.corrupt_records > 0 || ss.truncated_bytes > 0) {
      spdlog::warn("{}: spool recovery skipped {} corrupt records and cut a torn tail of {} bytes",
                   impl->source, ss.corrupt_records, ss.truncated_bytes);
    }

    impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (impl->wake_fd < 0) return Status::IoError("producer link: eventfd", errno);
    impl->ctx = SharedContext();
    if (!impl->ctx) return Status::Internal(ZmqError("zmq_ctx_new"));
    impl->broker_index = PreferredBroker(options.endpoint, options.link.brokers.size());
    HW_RETURN_IF_ERROR(impl->OpenSocket(impl->broker_index).WithContext("producer link"));
    impl->last_progress = Clock::now();
  }

  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->Run(); });
  raw->thread_started = true;
  return std::unique_ptr<ProducerLink>(new ProducerLink(std::move(impl)));
}

Status ProducerLink::Publish(const hostwatch::v1::Envelope& body) {
  if (body.body_case() == pb::Envelope::BODY_NOT_SET) {
    return Status::InvalidArgument("envelope: no body set (samples, events or alerts)");
  }
  // The stored bytes carry sent_ms and the body, never the header fields: those are the link's,
  // prepended at send time, and a copy in the body would override them (the last occurrence of a
  // field wins). The common case has none, so the body is serialized as it is, without a copy,
  // and sent_ms appended: it overrides any sent_ms the caller left in.
  std::string bytes;
  bool serialized;
  if (body.source().empty() && body.epoch() == 0 && body.seq() == 0) {
    serialized = body.SerializeToString(&bytes);
    AppendSentMs(NowMs(), &bytes);
  } else {
    pb::Envelope env(body);
    env.clear_source();
    env.clear_epoch();
    env.clear_seq();
    env.set_sent_ms(NowMs());
    serialized = env.SerializeToString(&bytes);
  }
  if (!serialized) return Status::InvalidArgument("envelope: cannot be serialized");
  return SpoolAndWake(bytes);
}

Status ProducerLink::PublishSerialized(std::string bytes) {
  AppendSentMs(NowMs(), &bytes);
  return SpoolAndWake(bytes);
}

Status ProducerLink::SpoolAndWake(const std::string& bytes) {
  Impl& d = *impl_;
  if (d.options.validate) {
    // Judged as the broker will see it: with a source and a seq in front. A samples envelope is
    // proven valid on the wire (naming/envelope_wire.h); anything else, or a failure, gets the
    // full validator for its verdict and message.
    const std::string framed = d.validation_header + bytes;
    if (!naming::SamplesEnvelopeProvablyValid(framed)) {
      pb::Envelope env;
      if (!env.ParseFromString(framed)) return Status::InvalidArgument("envelope: does not parse");
      HW_RETURN_IF_ERROR(naming::ValidateEnvelope(env));
    }
  }
  if (bytes.size() + 64 + d.source.size() > kMaxEnvelopeBytes) {
    return Status::InvalidArgument("envelope of " + std::to_string(bytes.size()) +
                                   " bytes exceeds the broker's default max_message_bytes (" +
                                   std::to_string(kMaxEnvelopeBytes) + "): split the batch");
  }
  {
    MutexLock lock(&d.mu);
    if (d.stopped) return Status::FailedPrecondition(d.source + ": producer link is stopped");
    Result<uint64_t> index = d.spool->Append(bytes);
    if (!index.ok()) return index.status().WithContext(d.source + ": spool append");
    ++d.published;
    d.appended_since_sync = true;
    const uint64_t dropped = d.spool->stats().dropped_records;
    if (dropped != d.seen_spool_dropped) {
      d.seen_spool_dropped = dropped;
      d.CheckLost();  // re-epoch now, so that the meta on disk matches what the spool holds
    }
  }
  if (!d.wake_pending.exchange(true)) d.Wake();
  return Status::Ok();
}

bool ProducerLink::WaitAcked(std::chrono::milliseconds deadline) {
  Impl& d = *impl_;
  const Clock::time_point until = Clock::now() + deadline;
  MutexLock lock(&d.mu);
  const uint64_t target = d.spool->next_index() - 1;
  while (d.SettledIndex() < target) {
    if (!d.settled_cv.WaitUntil(&d.mu, until)) return d.SettledIndex() >= target;
  }
  return true;
}

void ProducerLink::Stop(std::chrono::milliseconds flush_deadline) {
  Impl& d = *impl_;
  if (!d.thread_started) return;
  if (flush_deadline.count() > 0) WaitAcked(flush_deadline);
  {
    MutexLock lock(&d.mu);
    d.stopping = true;
  }
  d.Wake();
  d.thread.join();
  d.thread_started = false;
  MutexLock lock(&d.mu);
  d.stopped = true;
  if (Status st = d.spool->Sync(); !st.ok()) {
    spdlog::error("{}: syncing the spool at stop: {}", d.source, st.ToString());
  }
}

ProducerStats ProducerLink::stats() const {
  const Impl& d = *impl_;
  MutexLock lock(&d.mu);
  ProducerStats s;
  s.published = d.published;
  s.acked = d.acked;
  s.rejected = d.rejected;
  s.resent = d.resent;
  const spool::SpoolStats ss = d.spool->stats();
  s.spool_records = ss.records;
  s.spool_bytes = ss.bytes;
  s.spool_dropped = d.lost;
  s.epoch = d.epoch;
  s.last_acked_seq = d.acked_seq;
  s.broker = d.options.link.brokers[d.broker_index];
  return s;
}

std::string ProducerLink::source() const { return impl_->source; }

}  // namespace hw::transport
