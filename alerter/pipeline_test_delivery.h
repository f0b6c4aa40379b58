// Test-only: a Delivery that records what it is given (the send half is alerter/delivery/).
#pragma once

#include <string>
#include <vector>

#include "alerter/notification.h"
#include "common/base/mutex.h"

namespace hw::alerter {

class RecordingDelivery : public Delivery {
 public:
  Status Enqueue(const Notification& n) override {
    MutexLock lock(&mu_);
    if (fail_) return Status::Unavailable("outbox full (test)");
    sent_.push_back(n);
    return Status::Ok();
  }
  void Tick(int64_t) override {}
  void Stop(std::chrono::milliseconds) override {}

  std::vector<Notification> sent() const {
    MutexLock lock(&mu_);
    return sent_;
  }
  size_t count() const {
    MutexLock lock(&mu_);
    return sent_.size();
  }
  void set_fail(bool fail) {
    MutexLock lock(&mu_);
    fail_ = fail;
  }

 private:
  mutable Mutex mu_;
  std::vector<Notification> sent_ GUARDED_BY(mu_);
  bool fail_ GUARDED_BY(mu_) = false;
};

}  // namespace hw::alerter
