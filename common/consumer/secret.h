// Secrets (SMTP and Redis passwords) for the consumers (docs/architecture.md §4): read from a file
// or an environment variable named in the config, never written inline in a config that gets logged
// or printed by --check-config.
#pragma once

#include <string>

#include "common/config/config.h"
#include "common/status/status.h"

namespace hw::consumer {

// Where a secret comes from: `<name>_file` or `<name>_env` (at most one of them).
struct SecretRef {
  std::string file;
  std::string env;
  bool empty() const { return file.empty() && env.empty(); }
};

// Reads `<prefix>_file` and `<prefix>_env` from a section (e.g. prefix "password" reads
// password_file and password_env) and checks that at most one is set.
void ReadSecretRef(config::Section section, const std::string& prefix, SecretRef* out);

// The secret's value: the file's content with one trailing newline removed, or the variable's
// value. Empty when the reference is empty. Errors name the file or variable, never the value. A
// file readable by group or others is refused: a password in a world-readable file is a leak
// waiting to be found.
Result<std::string> LoadSecret(const SecretRef& ref);

// For --check-config: "file /etc/x" / "env NAME" / "" (never the value).
std::string DescribeSecret(const SecretRef& ref);

}  // namespace hw::consumer
