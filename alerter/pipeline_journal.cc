#include "alerter/pipeline_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "alerter/pipeline.h"

namespace hw::alerter {
namespace {

class JournalDelivery : public Delivery {
 public:
  JournalDelivery(int fd, std::set<std::string> ids) : fd_(fd), ids_(std::move(ids)) {}
  ~JournalDelivery() override {
    if (fd_ >= 0) ::close(fd_);
  }
  JournalDelivery(const JournalDelivery&) = delete;
  JournalDelivery& operator=(const JournalDelivery&) = delete;

  Status Enqueue(const Notification& n) override {
    // The pipeline may hand over a notification again after a crash (it saves its bookkeeping
    // just after Enqueue); the id makes the repeat harmless, as the contract says.
    if (ids_.count(n.id) > 0) return Status::Ok();
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
    ids_.insert(n.id);
    return Status::Ok();
  }
  void Tick(int64_t) override {}
  void Stop(std::chrono::milliseconds) override {}

 private:
  int fd_;
  std::set<std::string> ids_;  // every id in the file
};

}  // namespace

Result<std::unique_ptr<Delivery>> CreateJournalDelivery(const DeliveryConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.outbox_dir, ec);
  if (ec) return Status::IoError("outbox_dir " + config.outbox_dir, ec.value());
  const std::string path =
      (std::filesystem::path(config.outbox_dir) / "notifications.log").string();
  std::set<std::string> ids;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("  id: ", 0) == 0) ids.insert(line.substr(6));
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return Status::IoError(path, errno);
  return std::unique_ptr<Delivery>(new JournalDelivery(fd, std::move(ids)));
}

}  // namespace hw::alerter
