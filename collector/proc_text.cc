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

// Room for one more read: procfs hands out about a page per read, so a read into less than a page
// would only split that page over two syscalls.
constexpr size_t kMinReadRoom = 4096;

void MakeRoom(std::string* buf, size_t used) {
  if (buf->size() - used >= kMinReadRoom) return;
  buf->resize(std::max(used + kMinReadRoom, buf->size() * 2));
}

size_t ReadSize(const std::string& buf, size_t used, size_t max_read) {
  const size_t room = buf.size() - used;
  return max_read > 0 ? std::min(room, max_read) : room;
}

}  // namespace

Status ReadTextFileInto(const std::string& path, std::string* buf, size_t max_read) {
  // The same read loop as a kept-open ProcFile, so the fixture tests that read recorded trees
  // this way exercise the loop a live procfs goes through.
  spool::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    buf->clear();
    return Status::IoError("open " + path, errno);
  }
  if (!PreadWhole(fd.get(), buf, max_read)) return Status::IoError("read " + path, errno);
  return Status::Ok();
}

bool PreadWhole(int fd, std::string* buf, size_t max_read) {
  buf->resize(buf->capacity());
  size_t used = 0;
  for (;;) {
    MakeRoom(buf, used);
    const ssize_t n =
        ::pread(fd, buf->data() + used, ReadSize(*buf, used, max_read), static_cast<off_t>(used));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      buf->clear();
      errno = err;
      return false;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  buf->resize(used);
  return true;
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
