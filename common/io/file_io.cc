#include "common/io/file_io.h"

#include <cerrno>

namespace hw::io {

int PreadFull(int fd, char* buf, size_t n, uint64_t off, size_t* got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = ::pread(fd, buf + *got, n - *got, static_cast<off_t>(off + *got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return 0;
}

int WritevFull(int fd, iovec* iov, int iovcnt, uint64_t* written) {
  *written = 0;
  while (iovcnt > 0) {
    ssize_t w = ::writev(fd, iov, iovcnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    *written += static_cast<uint64_t>(w);
    auto left = static_cast<size_t>(w);
    while (iovcnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --iovcnt;
    }
    if (iovcnt > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

}  // namespace hw::io
