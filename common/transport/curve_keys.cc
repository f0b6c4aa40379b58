#include "common/transport/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdint>
#include <fstream>

#include "common/naming/naming.h"

namespace hw::transport {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kZ85Chars = 40;

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

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[kZ85Chars + 1] = {};
  char sec[kZ85Chars + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::FailedPrecondition(std::string("libzmq has no CURVE support: ") +
                                      zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{pub, sec};
}

Status WriteCurveKeyPair(const std::filesystem::path& dir, const std::string& name,
                         const CurveKeyPair& pair) {
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

Result<std::string> ReadZ85KeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("read key " + path, errno);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (!DecodeZ85Key(line)) {
    return Status::InvalidArgument(path + ": not a Z85 CURVE key (40 characters)");
  }
  return line;
}

Status CheckCurveKeyPair(const std::string& secret_z85, const std::string& public_z85,
                         const std::string& secret_file, const std::string& public_file) {
  char derived[kZ85Chars + 1] = {};
  if (zmq_curve_public(derived, secret_z85.c_str()) != 0) {
    return Status::FailedPrecondition("cannot derive the public key of " + secret_file + ": " +
                                      zmq_strerror(zmq_errno()));
  }
  if (public_z85 != derived) {
    return Status::InvalidArgument(public_file + " is not the public key of " + secret_file);
  }
  return Status::Ok();
}

std::optional<std::string> DecodeZ85Key(std::string_view z85) {
  if (z85.size() != kZ85Chars) return std::nullopt;
  const std::string text(z85);  // zmq_z85_decode wants a NUL-terminated string
  std::string raw(kKeyBytes, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(raw.data()), text.c_str()) == nullptr) {
    return std::nullopt;
  }
  return raw;
}

std::string EncodeZ85Key(std::string_view raw) {
  char z85[kZ85Chars + 1] = {};
  zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
  return z85;
}

}  // namespace hw::transport
