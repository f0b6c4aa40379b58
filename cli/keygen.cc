#include "cli/keygen.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cctype>
#include <cerrno>

#include "common/naming/naming.h"

namespace hw::cli {
namespace {

Status WriteNew(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  // O_EXCL: never clobber a key; the mode is set at creation so the secret is never world-readable.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::IoError("create " + path.string(), errno);
  std::string data = text + "\n";
  ssize_t n = write(fd, data.data(), data.size());
  int err = errno;
  if (fchmod(fd, mode) != 0) err = errno;  // the umask may have narrowed or widened it
  if (close(fd) != 0 && n >= 0) return Status::IoError("close " + path.string(), errno);
  if (n != static_cast<ssize_t>(data.size())) return Status::IoError("write " + path.string(), err);
  return Status::Ok();
}

}  // namespace

Result<KeyPair> GenerateKeyPair() {
  char pub[41] = {};
  char sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::FailedPrecondition(std::string("libzmq has no CURVE support: ") +
                                      zmq_strerror(zmq_errno()));
  }
  return KeyPair{pub, sec};
}

Status WriteKeyPair(const std::filesystem::path& dir, const std::string& name,
                    const KeyPair& pair) {
  if (!naming::IsSafeName(name, 128)) {
    return Status::InvalidArgument("key name \"" + name +
                                   "\" must be letters, digits, '-', '_' or '.'");
  }
  const auto key_path = dir / (name + ".key");
  const auto pub_path = dir / (name + ".pub");
  if (std::filesystem::exists(key_path) || std::filesystem::exists(pub_path)) {
    return Status::AlreadyExists(key_path.string() + " or " + pub_path.string() +
                                 " exists; remove it first if you mean to replace the key");
  }
  HW_RETURN_IF_ERROR(WriteNew(key_path, pair.secret_z85, 0600));
  return WriteNew(pub_path, pair.public_z85, 0644);
}

}  // namespace hw::cli
