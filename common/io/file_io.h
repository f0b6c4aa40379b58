// Low-level file pieces the spool, the broker journal and the small state files share: fixed-width
// little-endian coding (every on-disk record header), an owning fd, and read/write loops that
// survive short transfers and EINTR. Errors come back as errno values so the append and read paths
// can build messages only when something failed.
#pragma once

#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace hw::io {

inline void PutFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline void AppendFixed32(std::string* out, uint32_t v) {
  char b[4];
  PutFixed32(b, v);
  out->append(b, 4);
}
inline void AppendFixed64(std::string* out, uint64_t v) {
  char b[8];
  PutFixed64(b, v);
  out->append(b, 8);
}

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Reads up to n bytes at off; *got < n only at end of file. Returns 0 or an errno.
int PreadFull(int fd, char* buf, size_t n, uint64_t off, size_t* got);

// Writes all of iov, retrying short writes (it adjusts the iovecs it is given). Returns 0 or an
// errno; *written counts what reached the file either way, so a caller can cut a partial record.
int WritevFull(int fd, iovec* iov, int iovcnt, uint64_t* written);

}  // namespace hw::io
