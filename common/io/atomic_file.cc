#include "common/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/io/file_io.h"

namespace hw::io {

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    UniqueFd f(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!f.valid()) return Status::IoError("create " + tmp.string(), errno);
    iovec iov{const_cast<char*>(contents.data()), contents.size()};
    uint64_t written = 0;
    if (int err = WritevFull(f.get(), &iov, 1, &written); err != 0) {
      return Status::IoError("write " + tmp.string(), err);
    }
    if (fdatasync(f.get()) != 0) return Status::IoError("fsync " + tmp.string(), errno);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError("rename " + tmp.string(), errno);
  UniqueFd dir(open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) fsync(dir.get());  // best effort: the rename is what matters for atomicity
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  UniqueFd f(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f.valid()) {
    if (errno == ENOENT) return Status::NotFound(path.string() + " does not exist");
    return Status::IoError("open " + path.string(), errno);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(f.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("read " + path.string(), errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace hw::io
