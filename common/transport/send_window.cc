#include "common/transport/send_window.h"

#include <algorithm>

namespace hw::transport {

void SendWindow::Restart(uint64_t epoch, uint64_t base, uint64_t acked_seq) {
  epoch_ = epoch;
  base_ = base;
  acked_seq_ = acked_seq;
  next_seq_ = acked_seq + 1;
  max_sent_seq_ = 0;
  went_back_for_.reset();
}

bool SendWindow::CanSend(uint64_t end_index, bool* caught_up) const {
  const bool room = next_seq_ - acked_seq_ - 1 < window_;
  const bool pending = next_index() < end_index && stuck_index_ != next_index();
  *caught_up = room && !pending;
  return room && pending;
}

uint64_t SendWindow::Room(uint64_t end_index) const {
  const uint64_t in_flight = next_seq_ - acked_seq_ - 1;
  if (in_flight >= window_ || next_index() >= end_index) return 0;
  return std::min(window_ - in_flight, end_index - next_index());
}

void SendWindow::OnSent(uint64_t first_seq, uint64_t built, uint64_t sent, int64_t now_ms) {
  const uint64_t end = first_seq + sent;  // one past the last seq actually sent
  if (sent > 0) {
    if (first_seq <= max_sent_seq_) resent_ += std::min(end - 1, max_sent_seq_) - first_seq + 1;
    max_sent_seq_ = std::max(max_sent_seq_, end - 1);
    if (first_seq == acked_seq_ + 1) last_progress_ms_ = now_ms;  // the resend timer starts here
  }
  if (sent < built) next_seq_ = std::min(next_seq_, end);
}

void SendWindow::Advance(uint64_t to, bool rejected_last, int64_t now_ms) {
  const uint64_t n = to - acked_seq_;
  acked_ += rejected_last ? n - 1 : n;
  if (rejected_last) ++rejected_;
  acked_seq_ = to;
  next_seq_ = std::max(next_seq_, to + 1);
  went_back_for_.reset();
  last_progress_ms_ = now_ms;
}

SendWindow::AckOutcome SendWindow::OnAck(uint64_t epoch, uint64_t a, AckStatus status,
                                         uint64_t end_index, int64_t now_ms) {
  if (epoch != epoch_) return AckOutcome::kStale;
  const uint64_t highest = end_index - 1 - base_;  // the highest seq that exists
  if (a > highest) return AckOutcome::kBeyondEnd;
  switch (status) {
    case AckStatus::kRejected:
      if (a <= acked_seq_) return AckOutcome::kNoChange;
      Advance(a, /*rejected_last=*/true, now_ms);
      return AckOutcome::kRejected;
    case AckStatus::kGap: {
      // Below what it acked before: it lost its tail, or it is another broker that saw this epoch
      // long ago. The records after `a` that we released are gone from here too.
      if (a < acked_seq_) return AckOutcome::kNewEpoch;
      const bool advanced = a > acked_seq_;
      if (advanced) Advance(a, false, now_ms);
      if (next_seq_ > a + 1 && went_back_for_ != a) {
        next_seq_ = a + 1;
        went_back_for_ = a;
        return AckOutcome::kWentBack;
      }
      return advanced ? AckOutcome::kAdvanced : AckOutcome::kNoChange;
    }
    case AckStatus::kOk:
      if (a <= acked_seq_) return AckOutcome::kNoChange;
      Advance(a, false, now_ms);
      return AckOutcome::kAdvanced;
    case AckStatus::kUnknown:
      break;
  }
  return AckOutcome::kUnknown;
}

bool SendWindow::ResendIfDue(int64_t now_ms) {
  if (!in_flight() && stuck_index_ == 0) return false;
  if (now_ms - last_progress_ms_ <= resend_timeout_ms_) return false;
  // No progress for resend_timeout: back to the first unacked record (and retry a failed read).
  GoBack();
  last_progress_ms_ = now_ms;
  return true;
}

void SendWindow::GoBack() {
  next_seq_ = acked_seq_ + 1;
  went_back_for_.reset();
  stuck_index_ = 0;
}

std::optional<int64_t> SendWindow::ResendDueMs() const {
  if (!in_flight() && stuck_index_ == 0) return std::nullopt;
  return last_progress_ms_ + resend_timeout_ms_;
}

}  // namespace hw::transport
