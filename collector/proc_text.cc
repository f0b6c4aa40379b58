#include "collector/proc_text.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace hw::collector {

namespace {

// What each read asks for: procfs hands out about a page per read, so a smaller request would
// split that page over two syscalls. Reads go to a buffer on the stack and are appended: growing
// the string first would zero-fill every byte it adds (std::string::resize), which cost more than
// the copy.
constexpr size_t kReadChunk = 4096;

}  // namespace

Status ReadTextFileInto(const std::string& path, std::string* buf, size_t max_read) {
  // The same read loop as a kept-open ProcFile, so the fixture tests that read recorded trees
  // this way exercise the loop a live procfs goes through.
  io::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    buf->clear();
    return Status::IoError("open " + path, errno);
  }
  if (!PreadWhole(fd.get(), buf, max_read)) return Status::IoError("read " + path, errno);
  return Status::Ok();
}

bool PreadWhole(int fd, std::string* buf, size_t max_read) {
  // clear() keeps the capacity: after the first tick a file of the same size reads without an
  // allocation.
  buf->clear();
  char chunk[kReadChunk];
  const size_t want = max_read > 0 ? std::min(kReadChunk, max_read) : kReadChunk;
  for (;;) {
    const ssize_t n = ::pread(fd, chunk, want, static_cast<off_t>(buf->size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      buf->clear();
      errno = err;
      return false;
    }
    if (n == 0) return true;
    buf->append(chunk, static_cast<size_t>(n));
  }
}

Status ProcFile::Read(std::string* buf) {
  if (!keep_open_) return ReadTextFileInto(path_, buf, max_read_);
  for (int attempt = 0;; ++attempt) {
    if (!fd_.valid()) {
      const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return Status::IoError("open " + path_, errno);
      fd_.Reset(fd);
    }
    if (PreadWhole(fd_.get(), buf, max_read_)) return Status::Ok();
    const int err = errno;
    fd_.Reset();
    if (attempt > 0) return Status::IoError("read " + path_, err);
  }
}

bool ProcFile::Changed() {
  // Read opens the file and reads it after the open, and the poll state starts at the open: a
  // change after that read is reported here. The kernel clears the event as it reports it.
  if (!keep_open_ || !fd_.valid()) return true;
  pollfd p{fd_.get(), POLLPRI, 0};
  const int n = ::poll(&p, 1, 0);
  return n != 0 && (n < 0 || (p.revents & (POLLPRI | POLLERR | POLLNVAL)) != 0);
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::string buf;
  HW_RETURN_IF_ERROR(ReadTextFileInto(path, &buf));
  return buf;
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
  if (!dir) return Status::IoError("opendir " + path, errno);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(dir.get())) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  return names;
}

}  // namespace hw::collector
