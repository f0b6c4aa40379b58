#include "alerter/pipeline_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "alerter/pipeline.h"

namespace hw::alerter {
namespace {

class JournalDelivery : public Delivery {
 public:
  explicit JournalDelivery(int fd) : fd_(fd) {}
  ~JournalDelivery() override {
    if (fd_ >= 0) ::close(fd_);
  }
  JournalDelivery(const JournalDelivery&) = delete;
  JournalDelivery& operator=(const JournalDelivery&) = delete;

  Status Enqueue(const Notification& n) override {
    const std::string text = DescribeNotification(n) + "\n";
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t w = ::write(fd_, text.data() + done, text.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::IoError("notifications.log", errno);
      }
      done += static_cast<size_t>(w);
    }
    if (::fdatasync(fd_) != 0) return Status::IoError("notifications.log", errno);
    return Status::Ok();
  }
  void Tick(int64_t) override {}
  void Stop(std::chrono::milliseconds) override {}

 private:
  int fd_;
};

}  // namespace

Result<std::unique_ptr<Delivery>> CreateJournalDelivery(const DeliveryConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.outbox_dir, ec);
  if (ec) return Status::IoError("outbox_dir " + config.outbox_dir, ec.value());
  const std::string path =
      (std::filesystem::path(config.outbox_dir) / "notifications.log").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return Status::IoError(path, errno);
  return std::unique_ptr<Delivery>(new JournalDelivery(fd));
}

}  // namespace hw::alerter
