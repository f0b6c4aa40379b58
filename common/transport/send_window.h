// The producer link's send window (docs/wire_format.md §4): which spooled records to send next,
// what an Ack from the broker changes, and when to go back and resend. The link owns the spool,
// the socket and the epoch's storage; this class owns the numbers.
//
// Rules:
//   - Numbering: a record's seq in the current epoch is its spool index minus `base`. acked_seq is
//     cumulative; settled_index() = base + acked_seq is the last spool record the broker holds or
//     rejected, so everything up to it may leave the spool.
//   - Window: at most `window` records are in flight (sent, not acked): seqs acked_seq + 1 ..
//     next_seq - 1. Take() hands out next_seq.
//   - Acks (OnAck) of another epoch are stale and ignored, as is one beyond the last record that
//     exists. OK advances acked_seq; REJECTED advances it too (the rejected record is final and
//     counted); GAP at a below acked_seq means the broker lost what it acked (kNewEpoch: only a new
//     epoch can continue); GAP at or above it advances to a and goes back to a + 1, once per a
//     (every envelope behind a gap draws the same GAP).
//   - Resend: when records are in flight (or a read stopped at a hole) and no ack has made progress
//     for resend_timeout, go back to acked_seq + 1 (ResendIfDue). Progress is an ack that advances,
//     or sending acked_seq + 1 again.
//   - Lost records: when the spool's first record is past settled_index() + 1, the records between
//     were dropped or corrupt before the broker acked them (Lost() says how many); the link then
//     starts a new epoch whose seq 1 is the first record still held.
//
// Times are monotonic ms (hw::Clock::MonoMs). Pure; not thread-safe (the link guards it with its
// mutex).
#pragma once

#include <cstdint>
#include <optional>

namespace hw::transport {

class SendWindow {
 public:
  enum class AckStatus { kOk, kRejected, kGap, kUnknown };
  enum class AckOutcome {
    kStale,      // another epoch: ignored
    kBeyondEnd,  // acks a seq that does not exist: ignored (and worth a log line)
    kUnknown,    // a status this link does not understand: ignored, never acked on its word
    kNoChange,   // nothing new
    kAdvanced,   // acked_seq moved (the spool may release up to settled_index())
    kRejected,   // acked_seq moved to a rejected record (logged and counted by the caller)
    kWentBack,   // a GAP: the next record sent is acked_seq + 1
    kNewEpoch,   // the broker has less than it acked: start a new epoch at settled_index()
  };

  SendWindow(uint32_t window, int64_t resend_timeout_ms)
      : window_(window == 0 ? 1 : window), resend_timeout_ms_(resend_timeout_ms) {}

  // A new or recovered epoch: seq 1 is spool record base + 1, and everything up to acked_seq is
  // settled (0 for a new epoch; after a restart, what the spool no longer holds).
  void Restart(uint64_t epoch, uint64_t base, uint64_t acked_seq);

  // With end_index the spool's next index (one past its last record): true when the window has
  // room and a record is waiting; *caught_up when it has room and every record is sent.
  bool CanSend(uint64_t end_index, bool* caught_up) const;
  // How many records may be taken now, reading from next_index(): the window's room, at most the
  // records waiting (0: none).
  uint64_t Room(uint64_t end_index) const;
  // The seq for record next_index(); moves past it.
  uint64_t Take() { return next_seq_++; }
  // A record that could not be read (a hole, a read error) at next_index(): nothing is sent past
  // it until the acks or the resend timer move next_seq.
  void MarkStuck() { stuck_index_ = next_index(); }
  // `built` frames starting at first_seq were made; `sent` of them left. Counts resends, starts
  // the resend timer when acked_seq + 1 went out, and takes back what did not leave.
  void OnSent(uint64_t first_seq, uint64_t built, uint64_t sent, int64_t now_ms);

  AckOutcome OnAck(uint64_t epoch, uint64_t acked_seq, AckStatus status, uint64_t end_index,
                   int64_t now_ms);
  // Goes back to acked_seq + 1 when the resend timer ran out; true when it did.
  bool ResendIfDue(int64_t now_ms);
  // A new connection: what was in flight on the old one is sent again.
  void GoBack();
  // When ResendIfDue can next fire; nullopt when nothing is in flight.
  std::optional<int64_t> ResendDueMs() const;

  // Records between the settled one and the spool's first that can never be acked.
  uint64_t Lost(uint64_t first_index) const {
    return first_index > settled_index() + 1 ? first_index - 1 - settled_index() : 0;
  }

  uint64_t epoch() const { return epoch_; }
  uint64_t base() const { return base_; }
  uint64_t acked_seq() const { return acked_seq_; }
  uint64_t next_seq() const { return next_seq_; }
  uint64_t next_index() const { return base_ + next_seq_; }
  uint64_t settled_index() const { return base_ + acked_seq_; }
  bool in_flight() const { return next_seq_ > acked_seq_ + 1; }
  // Counters since the link started.
  uint64_t acked() const { return acked_; }
  uint64_t rejected() const { return rejected_; }
  uint64_t resent() const { return resent_; }

 private:
  void Advance(uint64_t to, bool rejected_last, int64_t now_ms);

  const uint64_t window_;
  const int64_t resend_timeout_ms_;
  uint64_t epoch_ = 0;
  uint64_t base_ = 0;
  uint64_t acked_seq_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t max_sent_seq_ = 0;              // the highest seq sent in this epoch (to count resends)
  std::optional<uint64_t> went_back_for_;  // the GAP acked_seq already gone back for
  uint64_t stuck_index_ = 0;               // a record a read stopped at (0: none)
  int64_t last_progress_ms_ = 0;
  uint64_t acked_ = 0;
  uint64_t rejected_ = 0;
  uint64_t resent_ = 0;
};

}  // namespace hw::transport
