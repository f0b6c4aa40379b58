// CURVE key files, the one place they are read and written: `hostwatch keygen`, the broker, the
// links and the tests all go through here, so the layout below has one definition.
//
// A keypair NAME is two text files, each one Z85 key (40 characters) and a newline:
//   NAME.key  the secret key, mode 0600 from its creation
//   NAME.pub  the public key, mode 0644
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/status/status.h"

namespace hw::transport {

struct CurveKeyPair {
  std::string public_z85;  // 40 characters
  std::string secret_z85;  // 40 characters
};

// A fresh keypair from libzmq; FailedPrecondition when libzmq has no CURVE.
Result<CurveKeyPair> GenerateCurveKeyPair();

// Writes dir/NAME.key and dir/NAME.pub. Refuses to overwrite an existing key (a lost secret cannot
// be undone); the name must be a plain file name.
Status WriteCurveKeyPair(const std::filesystem::path& dir, const std::string& name,
                         const CurveKeyPair& pair);

// Reads one key file: its first line (trailing CR and spaces dropped), a decodable Z85 key.
Result<std::string> ReadZ85KeyFile(const std::string& path);

// Checks that public_z85 is the public key of secret_z85: a secret key with the wrong .pub beside
// it would otherwise surface only as handshakes failing on the other side. The file names are for
// the message.
Status CheckCurveKeyPair(const std::string& secret_z85, const std::string& public_z85,
                         const std::string& secret_file, const std::string& public_file);

// The raw 32 bytes of a Z85 key, or nullopt when it is not one; and back.
std::optional<std::string> DecodeZ85Key(std::string_view z85);
std::string EncodeZ85Key(std::string_view raw);

}  // namespace hw::transport
