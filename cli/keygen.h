// `hostwatch keygen NAME`: a CURVE keypair as Z85 text files, NAME.key (secret, mode 0600) and
// NAME.pub (public). The broker reads its own pair and a directory of clients' *.pub files.
#pragma once

#include <filesystem>
#include <string>

#include "common/status/status.h"

namespace hw::cli {

struct KeyPair {
  std::string public_z85;  // 40 characters
  std::string secret_z85;  // 40 characters
};

Result<KeyPair> GenerateKeyPair();
// Writes dir/NAME.key and dir/NAME.pub. Refuses to overwrite an existing key (a lost secret cannot
// be undone); the name must be a plain file name.
Status WriteKeyPair(const std::filesystem::path& dir, const std::string& name, const KeyPair& pair);

}  // namespace hw::cli
