// One carbon line receiver (graphite/README.md, Delivery): batched non-blocking writes, the settle
// rule, resend after a disconnect, and a disk spool while it stays down.
//
// Carbon never acknowledges anything, so delivery is judged from our side:
//  - A chunk of lines is written; its settle clock starts once the peer's kernel has acked its
//    last byte (SIOCOUTQ: bytes still in our send queue), so lines stuck in our own send buffer
//    behind a slow carbon never count. It is settled once `settle` has passed with the connection
//    still healthy (no EOF, no error): by then carbon has read it and its writer has stored it.
//  - On a disconnect, every unsettled chunk goes back to the front of the queue and is sent again
//    after the reconnect (whisper keeps the last value per timestamp, so a repeat is harmless).
//  - A destination that stays down (no healthy connection for `settle`) moves its queued and
//    unsettled lines into its own spool (common/spool: bounded, the oldest dropped and counted) so
//    that their deliveries can finish and the other destinations keep flowing. Once connected
//    again the spool is sent like new lines and released as it settles; what was read but not yet
//    settled when the process stops stays in the spool and is sent again after a restart.
//
// Lines carry tickets (the sink's delivery numbers): Pump reports a ticket once this
// destination's part of it is settled or spooled.
//
// Thread-safety: one owner thread (the sink's) calls everything except stats(), which any thread
// may call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/consumer/backoff.h"
#include "common/spool/spool.h"
#include "common/status/status.h"
#include "graphite/hash_ring.h"

namespace hw::graphite {

struct DestinationOptions {
  CarbonDestination address;
  std::chrono::milliseconds settle{2000};
  std::filesystem::path spool_dir;  // this destination's own folder
  uint64_t spool_max_bytes = 1ull << 30;
  size_t chunk_bytes = 64 * 1024;  // lines per write batch
  std::chrono::milliseconds backoff_initial{100}, backoff_max{30000};
};

struct DestinationStats {
  std::atomic<uint64_t> lines_written{0};  // to the socket, first sends and resends
  std::atomic<uint64_t> lines_settled{0};
  std::atomic<uint64_t> lines_resent{0};      // queued again after a disconnect
  std::atomic<uint64_t> lines_spooled{0};     // moved into the spool
  std::atomic<uint64_t> lines_from_spool{0};  // settled lines that came from the spool
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> spool_bytes{0};
  std::atomic<uint64_t> spool_records{0};
  std::atomic<uint64_t> spool_dropped_records{0};  // oldest dropped because the spool was full
  std::atomic<uint64_t> spool_dropped_bytes{0};
  std::atomic<uint64_t> queued_bytes{0};  // in memory: not yet written or not yet settled
  std::atomic<int> connected{0};
};

class Destination {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens (and recovers) the spool; connects later, in Pump.
  static Result<std::unique_ptr<Destination>> Open(DestinationOptions options);
  ~Destination();

  // Queues lines ("name value ts\n"..., `count` of them) for ticket. Call once per ticket.
  void Add(std::string_view lines, uint64_t count, uint64_t ticket);

  // Does whatever is possible now without blocking: connect, write, notice a disconnect, settle,
  // spool, read the spool. Appends finished tickets to *done.
  void Pump(Clock::time_point now, std::vector<uint64_t>* done);

  // For poll(): the socket (-1 when none) and the events worth waiting for.
  int fd() const { return fd_; }
  short poll_events() const;
  // True when connected with bytes waiting to be written (the owner should poll soon).
  bool wants_write() const;
  // The earliest time Pump has timed work to do (a settle, a reconnect, a spool), or max().
  Clock::time_point next_deadline() const;
  // Bytes in memory not yet written.
  uint64_t unwritten_bytes() const { return unwritten_bytes_; }
  bool connected() const { return state_ == State::kConnected; }

  // For a destination removed by a reload: everything queued or unsettled goes into the spool
  // (finished tickets to *done), then Close(). The spool stays on disk for when it comes back.
  void SpoolAndClose(std::vector<uint64_t>* done);
  void set_settle(std::chrono::milliseconds settle) { options_.settle = settle; }

  // Close the socket; unsettled lines stay unfinished (their deliveries are not committed and come
  // again after a restart), read spool records stay in the spool. Syncs the spool.
  void Close();

  const CarbonDestination& address() const { return options_.address; }
  const DestinationStats& stats() const { return stats_; }

 private:
  enum class State { kDisconnected, kConnecting, kConnected };
  struct Chunk {
    std::string data;
    uint64_t lines = 0;
    std::vector<uint64_t> tickets;  // empty for a chunk read from the spool
    uint64_t spool_index = 0;       // > 0: read from the spool (released once settled)
    uint64_t end_offset = 0;        // in this connection's byte stream, once written
    Clock::time_point acked_at{};   // when the peer's kernel had all of it; {} until then
  };

  explicit Destination(DestinationOptions options);
  void StartConnect(Clock::time_point now);
  void FinishConnect(Clock::time_point now);
  void Disconnect(Clock::time_point now, const std::string& why);
  bool PeerClosed();
  void Write(Clock::time_point now);
  void Settle(Clock::time_point now, std::vector<uint64_t>* done);
  void SpoolEverything(std::vector<uint64_t>* done);
  void ReadSpool();
  void UpdateStats();
  // A chunk's buffer: reused from settled chunks (a forwarder moving 100k lines/s would otherwise
  // spend most of its time in malloc and page faults for 64 KiB strings).
  std::string TakeBuffer();
  void RecycleBuffer(std::string&& buffer);

  DestinationOptions options_;
  std::unique_ptr<spool::Spool> spool_;
  consumer::Backoff backoff_;
  State state_ = State::kDisconnected;
  int fd_ = -1;
  Clock::time_point retry_at_{};    // kDisconnected: next connect attempt
  Clock::time_point down_since_{};  // {} while healthy (or never tried)
  Clock::time_point connected_at_{};
  std::deque<Chunk> pending_;  // front may be partly written (write_offset_)
  size_t write_offset_ = 0;
  std::deque<Chunk> unsettled_;  // written, settle clock running or waiting for the ack
  uint64_t stream_written_ = 0;  // bytes written on this connection
  uint64_t unwritten_bytes_ = 0;
  uint64_t spool_next_ = 0;      // next spool index to read; 0: spool_->first_index()
  uint64_t spool_inflight_ = 0;  // spool chunks in pending_ or unsettled_
  uint64_t log_suppressed_ = 0;
  std::vector<std::string> free_buffers_;
  DestinationStats stats_;
};

}  // namespace hw::graphite
