#include "common/spool/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace hw::spool {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    Fd f{open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (f.fd < 0) return Status::IoError("create " + tmp.string(), errno);
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = write(f.fd, contents.data() + done, contents.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::IoError("write " + tmp.string(), errno);
      done += static_cast<size_t>(n);
    }
    if (fdatasync(f.fd) != 0) return Status::IoError("fsync " + tmp.string(), errno);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError("rename " + tmp.string(), errno);
  Fd dir{open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
              O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0) fsync(dir.fd);  // best effort: the rename is what matters for atomicity
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  Fd f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path.string() + " does not exist");
    return Status::IoError("open " + path.string(), errno);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("read " + path.string(), errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace hw::spool
