#include "common/io/sync_batch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace hw::io {

Status SyncBatch::AddDup(int fd, std::string path, bool data_only) {
  UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dup.valid()) return Status::IoError("dup " + path, errno);
  files_.push_back({std::move(dup), std::move(path), data_only});
  return Status::Ok();
}

void SyncBatch::Add(UniqueFd fd, std::string path, bool data_only) {
  files_.push_back({std::move(fd), std::move(path), data_only});
}

Status SyncBatch::Run() {
  for (const File& f : files_) {
    if ((f.data_only ? ::fdatasync(f.fd.get()) : ::fsync(f.fd.get())) != 0) {
      return Status::IoError((f.data_only ? "fdatasync " : "fsync ") + f.path, errno);
    }
  }
  return Status::Ok();
}

}  // namespace hw::io
