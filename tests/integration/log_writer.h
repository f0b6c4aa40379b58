// A logging application for logwatch's acceptance tests (logwatch_test.cc): numbered lines
// written at a steady rate to files that logrotate and the test rotate under it.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hw::testing {

// Creates path if it is missing and never truncates it (the writer below never creates its files,
// but a truncating open of one it had already reopened would destroy lines no follower had read).
inline void Touch(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
}

// Writes "... seq=<tag>-<n> ..." lines at a steady total rate, round robin over its files, each
// opened O_APPEND (as a logger should; append=false: at the end, then at its own offset) and
// reopened when its path names another file (what an application does on SIGHUP after logrotate's
// create, or after a delete). It never creates a file: the test does. A writer that re-created its
// path in the moment between logrotate's rename and its create lost what it wrote there, as
// logrotate then moves the file it finds in its way aside ("destination ... already exists,
// renaming to ....backup"), to a name no follower watches (CI saw 28 such lines go).
class Writer {
 public:
  Writer(std::vector<std::pair<std::string, std::filesystem::path>> files, int lines_per_s,
         bool append = true)
      : files_(std::move(files)), rate_(lines_per_s), append_(append) {
    fds_.assign(files_.size(), -1);
    counts_.assign(files_.size(), 0);
  }
  ~Writer() {
    Stop();
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Lines written per tag (valid after Stop).
  std::map<std::string, uint64_t> written() const {
    std::map<std::string, uint64_t> m;
    for (size_t i = 0; i < files_.size(); ++i) m[files_[i].first] = counts_[i];
    return m;
  }
  uint64_t total() const { return total_.load(); }
  double achieved_rate() const { return achieved_; }

 private:
  void Reopen(size_t i) {
    struct stat by_path, by_fd;
    if (fds_[i] >= 0 && ::stat(files_[i].second.c_str(), &by_path) == 0 &&
        ::fstat(fds_[i], &by_fd) == 0 && by_path.st_ino == by_fd.st_ino) {
      return;
    }
    if (fds_[i] >= 0) ::close(fds_[i]);
    fds_[i] = ::open(files_[i].second.c_str(), O_WRONLY | O_CLOEXEC | (append_ ? O_APPEND : 0));
    if (!append_ && fds_[i] >= 0) ::lseek(fds_[i], 0, SEEK_END);
  }
  void Run() {
    const auto start = std::chrono::steady_clock::now();
    char line[160];
    uint64_t n = 0;
    while (!stop_) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const uint64_t due = static_cast<uint64_t>(elapsed * rate_);
      for (size_t i = 0; i < files_.size(); ++i) Reopen(i);
      for (; n < due && !stop_; ++n) {
        const size_t i = n % files_.size();
        const int len =
            std::snprintf(line, sizeof line,
                          "2026-11-21T10:00:00Z app[42]: request done seq=%s-%llu "
                          "status=200 bytes=1234\n",
                          files_[i].first.c_str(), static_cast<unsigned long long>(counts_[i] + 1));
        if (::write(fds_[i], line, static_cast<size_t>(len)) == len) ++counts_[i];
        if (n % 64 == 63) Reopen(i);
      }
      total_ = n;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing the writer, not waiting for a result
    }
    achieved_ = static_cast<double>(n) /
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  std::vector<std::pair<std::string, std::filesystem::path>> files_;
  int rate_;
  bool append_;
  std::vector<int> fds_;
  std::vector<uint64_t> counts_;
  std::atomic<uint64_t> total_{0};
  double achieved_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hw::testing
