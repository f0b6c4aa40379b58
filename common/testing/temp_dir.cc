#include "common/testing/temp_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

namespace hw::testing {
namespace {

bool KeepTemp() {
  const char* keep = std::getenv("HW_KEEP_TEMP");
  return keep != nullptr && std::string_view(keep) == "1";
}

}  // namespace

Result<TempDir> TempDir::Create() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = (base != nullptr && *base != '\0') ? base : "/tmp";
  tmpl += "/hostwatch-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return Status::IoError("mkdtemp " + tmpl, errno);
  return TempDir(Adopt{}, std::filesystem::path(buf.data()));
}

TempDir::TempDir() {
  Result<TempDir> made = Create();
  if (!made.ok()) {
    std::fprintf(stderr, "hw::testing::TempDir: %s\n", made.status().ToString().c_str());
    std::abort();
  }
  path_ = std::move(made->path_);
  made->path_.clear();
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { Remove(); }

void TempDir::Remove() {
  if (path_.empty()) return;
  if (KeepTemp()) {
    std::fprintf(stderr, "HW_KEEP_TEMP=1: keeping %s\n", path_.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) std::fprintf(stderr, "removing %s: %s\n", path_.c_str(), ec.message().c_str());
  }
  path_.clear();
}

std::filesystem::path TempDir::Sub(std::string_view name) const {
  std::filesystem::path sub = path_ / name;
  std::error_code ec;
  std::filesystem::create_directories(sub, ec);
  return sub;
}

Status WriteFile(const std::filesystem::path& path, std::string_view content) {
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return Status::IoError("mkdir " + path.parent_path().string(), ec.value());
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("open " + path.string(), errno);
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::IoError("write " + path.string(), err);
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) return Status::IoError("close " + path.string(), errno);
  return Status::Ok();
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    Status io = Status::IoError("open " + path.string(), err);
    if (err == ENOENT) return Status::NotFound(io.message());
    return io;
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::IoError("read " + path.string(), err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace hw::testing
