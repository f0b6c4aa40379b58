#include "graphite/destination.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hw::graphite {
namespace {

// Spool chunks read ahead while connected: enough to keep the socket busy, little memory.
constexpr uint64_t kSpoolReadAhead = 16;

}  // namespace

Result<std::unique_ptr<Destination>> Destination::Open(DestinationOptions options) {
  std::unique_ptr<Destination> d(new Destination(std::move(options)));
  spool::SpoolOptions so;
  so.dir = d->options_.spool_dir;
  so.max_bytes = d->options_.spool_max_bytes;
  so.segment_bytes = std::min<uint64_t>(8ull << 20, std::max<uint64_t>(so.max_bytes / 4, 4096));
  Result<std::unique_ptr<spool::Spool>> s = spool::Spool::Open(so);
  if (!s.ok()) {
    return Status(s.status().code(),
                  "spool of " + d->options_.address.ToString() + ": " + s.status().message());
  }
  d->spool_ = std::move(s).value();
  d->spool_next_ = d->spool_->first_index();
  if (d->spool_->stats().records > 0) {
    spdlog::info("carbon {}: {} spooled records ({} bytes) to send", d->options_.address.ToString(),
                 d->spool_->stats().records, d->spool_->stats().bytes);
  }
  d->UpdateStats();
  return d;
}

Destination::Destination(DestinationOptions options)
    : options_(std::move(options)), backoff_(options_.backoff_initial, options_.backoff_max) {}

Destination::~Destination() { Close(); }

void Destination::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  state_ = State::kDisconnected;
  stats_.connected = 0;
  if (spool_) (void)spool_->Sync();
}

std::string Destination::TakeBuffer() {
  if (free_buffers_.empty()) {
    std::string b;
    b.reserve(options_.chunk_bytes + 16 * 1024);
    return b;
  }
  std::string b = std::move(free_buffers_.back());
  free_buffers_.pop_back();
  return b;
}

void Destination::RecycleBuffer(std::string&& buffer) {
  constexpr size_t kMaxFree = 64;
  if (free_buffers_.size() >= kMaxFree || buffer.capacity() < options_.chunk_bytes) return;
  buffer.clear();
  free_buffers_.push_back(std::move(buffer));
}

void Destination::SpoolAndClose(std::vector<uint64_t>* done) {
  SpoolEverything(done);
  Close();
  UpdateStats();
}

void Destination::Add(std::string_view lines, uint64_t count, uint64_t ticket) {
  if (lines.empty()) return;
  if (pending_.empty() || pending_.back().spool_index != 0 ||
      pending_.back().data.size() >= options_.chunk_bytes) {
    pending_.emplace_back();
    pending_.back().data = TakeBuffer();
  }
  Chunk& c = pending_.back();
  c.data.append(lines);
  c.lines += count;
  c.tickets.push_back(ticket);
  unwritten_bytes_ += lines.size();
  stats_.queued_bytes += lines.size();
}

short Destination::poll_events() const {
  if (fd_ < 0) return 0;
  if (state_ == State::kConnecting) return POLLOUT;
  return static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT));
}

bool Destination::wants_write() const { return state_ == State::kConnected && !pending_.empty(); }

Destination::Clock::time_point Destination::next_deadline() const {
  Clock::time_point t = Clock::time_point::max();
  const auto soon = Clock::now() + std::chrono::milliseconds(10);
  switch (state_) {
    case State::kDisconnected:
      t = retry_at_;
      if (down_since_ != Clock::time_point{} && (!pending_.empty() || !unsettled_.empty()))
        t = std::min(t, down_since_ + options_.settle);
      break;
    case State::kConnecting:
      t = soon;
      break;
    case State::kConnected:
      if (!unsettled_.empty()) {
        const Chunk& c = unsettled_.front();
        t = c.acked_at == Clock::time_point{} ? soon : c.acked_at + options_.settle;
      }
      if (down_since_ != Clock::time_point{}) t = std::min(t, connected_at_ + options_.settle);
      break;
  }
  return t;
}

void Destination::StartConnect(Clock::time_point now) {
  const std::string port = std::to_string(options_.address.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  // Numeric addresses resolve without I/O; a host name is looked up on each (re)connect, so a
  // moved carbon is found again.
  int rc = ::getaddrinfo(options_.address.server.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    Disconnect(now, std::string("cannot resolve: ") + gai_strerror(rc));
    ++stats_.connect_failures;
    return;
  }
  fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    ::freeaddrinfo(res);
    Disconnect(now, std::string("socket: ") + std::strerror(errno));
    return;
  }
  int one = 1;
  (void)::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  rc = ::connect(fd_, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc == 0) {
    FinishConnect(now);
  } else if (errno == EINPROGRESS) {
    state_ = State::kConnecting;
  } else {
    ++stats_.connect_failures;
    Disconnect(now, std::string("connect: ") + std::strerror(errno));
  }
}

void Destination::FinishConnect(Clock::time_point now) {
  state_ = State::kConnected;
  connected_at_ = now;
  stream_written_ = 0;
  write_offset_ = 0;
  stats_.connected = 1;
  ++stats_.connects;
  if (down_since_ != Clock::time_point{} || log_suppressed_ > 0) {
    spdlog::info("carbon {}: connected ({} failed attempts before)", options_.address.ToString(),
                 log_suppressed_);
  }
  log_suppressed_ = 0;
}

void Destination::Disconnect(Clock::time_point now, const std::string& why) {
  const bool was_connected = state_ == State::kConnected;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  state_ = State::kDisconnected;
  stats_.connected = 0;
  if (was_connected) ++stats_.disconnects;
  // Everything not settled goes out again, in its original order, from its first byte.
  uint64_t resent = 0;
  for (auto it = unsettled_.rbegin(); it != unsettled_.rend(); ++it) {
    resent += it->lines;
    unwritten_bytes_ += it->data.size();
    it->acked_at = Clock::time_point{};
    pending_.push_front(std::move(*it));
  }
  unsettled_.clear();
  if (write_offset_ > 0 && !pending_.empty()) {
    // The front chunk was partly written: all of it goes again (carbon drops a torn line).
    write_offset_ = 0;
  }
  stats_.lines_resent += resent;
  if (down_since_ == Clock::time_point{}) down_since_ = now;
  retry_at_ = now + backoff_.Next();
  // One line per outage, then a count: a carbon that stays down must not flood the log.
  if (was_connected || log_suppressed_ == 0) {
    spdlog::warn("carbon {}: {}; {} lines to resend, retrying", options_.address.ToString(), why,
                 resent);
  }
  ++log_suppressed_;
}

bool Destination::PeerClosed() {
  char buf[512];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) continue;  // carbon sends nothing; whatever came is discarded
    if (n == 0) return true;
    return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
}

void Destination::Write(Clock::time_point now) {
  while (!pending_.empty()) {
    Chunk& c = pending_.front();
    const size_t left = c.data.size() - write_offset_;
    ssize_t n = ::send(fd_, c.data.data() + write_offset_, left, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      Disconnect(now, std::string("write: ") + std::strerror(errno));
      return;
    }
    write_offset_ += static_cast<size_t>(n);
    stream_written_ += static_cast<uint64_t>(n);
    unwritten_bytes_ -= static_cast<uint64_t>(n);
    if (write_offset_ < c.data.size()) return;
    write_offset_ = 0;
    c.end_offset = stream_written_;
    stats_.lines_written += c.lines;
    unsettled_.push_back(std::move(c));
    pending_.pop_front();
  }
}

void Destination::Settle(Clock::time_point now, std::vector<uint64_t>* done) {
  if (unsettled_.empty()) return;
  int outq = 0;
  if (::ioctl(fd_, SIOCOUTQ, &outq) != 0) outq = 0;
  const uint64_t acked = stream_written_ - std::min<uint64_t>(stream_written_, outq);
  for (Chunk& c : unsettled_) {
    if (c.end_offset > acked) break;
    if (c.acked_at == Clock::time_point{}) c.acked_at = now;
  }
  uint64_t release_upto = 0;
  while (!unsettled_.empty()) {
    Chunk& c = unsettled_.front();
    if (c.acked_at == Clock::time_point{} || now - c.acked_at < options_.settle) break;
    stats_.lines_settled += c.lines;
    stats_.queued_bytes -= c.data.size();
    if (c.spool_index != 0) {
      release_upto = c.spool_index;
      stats_.lines_from_spool += c.lines;
      --spool_inflight_;
    }
    done->insert(done->end(), c.tickets.begin(), c.tickets.end());
    RecycleBuffer(std::move(c.data));
    unsettled_.pop_front();
  }
  if (release_upto != 0) {
    if (Status s = spool_->Release(release_upto); !s.ok())
      spdlog::error("carbon {}: spool release: {}", options_.address.ToString(), s.ToString());
  }
}

void Destination::SpoolEverything(std::vector<uint64_t>* done) {
  std::vector<uint64_t> tickets;
  uint64_t lines = 0;
  auto take = [&](std::deque<Chunk>& q) {
    for (Chunk& c : q) {
      stats_.queued_bytes -= c.data.size();
      if (c.spool_index != 0) continue;  // still in the spool, read again later
      Result<uint64_t> idx = spool_->Append(c.data);
      if (!idx.ok()) {
        // Cannot spool (disk full or broken): keep nothing back from the commit either way would
        // lose lines, so these tickets stay unfinished and come again after a restart.
        spdlog::error("carbon {}: spool append: {}", options_.address.ToString(),
                      idx.status().ToString());
        continue;
      }
      lines += c.lines;
      tickets.insert(tickets.end(), c.tickets.begin(), c.tickets.end());
    }
    q.clear();
  };
  take(unsettled_);
  take(pending_);
  write_offset_ = 0;
  unwritten_bytes_ = 0;
  spool_inflight_ = 0;
  spool_next_ = spool_->first_index();
  if (tickets.empty()) return;
  // Only what is on disk may let its deliveries commit.
  if (Status s = spool_->Sync(); !s.ok()) {
    spdlog::error("carbon {}: spool sync: {}", options_.address.ToString(), s.ToString());
    return;
  }
  stats_.lines_spooled += lines;
  done->insert(done->end(), tickets.begin(), tickets.end());
}

void Destination::ReadSpool() {
  if (spool_inflight_ >= kSpoolReadAhead) return;
  const uint64_t from = std::max(spool_next_, spool_->first_index());
  if (from >= spool_->next_index()) return;
  std::vector<Chunk> read;
  Status s = spool_->Read(
      from, kSpoolReadAhead - spool_inflight_, [&](uint64_t index, std::string_view bytes) {
        Chunk c;
        c.data.assign(bytes);
        c.lines = static_cast<uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
        c.spool_index = index;
        read.push_back(std::move(c));
        return true;
      });
  if (!s.ok()) {
    spdlog::error("carbon {}: spool read: {}", options_.address.ToString(), s.ToString());
    return;
  }
  if (read.empty()) {
    spool_next_ = spool_->next_index();
    return;
  }
  spool_next_ = read.back().spool_index + 1;
  for (Chunk& c : read) {
    unwritten_bytes_ += c.data.size();
    stats_.queued_bytes += c.data.size();
    ++spool_inflight_;
    // Behind what is already queued: new lines keep flowing while the backlog drains.
    pending_.push_back(std::move(c));
  }
}

void Destination::Pump(Clock::time_point now, std::vector<uint64_t>* done) {
  if (state_ == State::kConnecting) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) > 0) {
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0) {
        FinishConnect(now);
      } else {
        ++stats_.connect_failures;
        Disconnect(now, std::string("connect: ") + std::strerror(err));
      }
    }
  }
  if (state_ == State::kDisconnected && now >= retry_at_) StartConnect(now);
  if (state_ == State::kConnected) {
    if (PeerClosed()) {
      Disconnect(now, "connection closed by carbon");
    } else {
      ReadSpool();
      Write(now);
      if (state_ == State::kConnected) {
        Settle(now, done);
        if (now - connected_at_ >= options_.settle) {
          down_since_ = Clock::time_point{};  // healthy for a whole settle: the outage is over
          backoff_.Reset();
        }
      }
    }
  }
  if (state_ != State::kConnected && down_since_ != Clock::time_point{} &&
      now - down_since_ >= options_.settle && (!pending_.empty() || !unsettled_.empty())) {
    SpoolEverything(done);
  }
  UpdateStats();
}

void Destination::UpdateStats() {
  spool::SpoolStats s = spool_->stats();
  stats_.spool_bytes = s.bytes;
  stats_.spool_records = s.records;
  stats_.spool_dropped_records = s.dropped_records;
  stats_.spool_dropped_bytes = s.dropped_bytes;
}

}  // namespace hw::graphite
