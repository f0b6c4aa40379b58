#include "common/consumer/secret.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hw::consumer {

void ReadSecretRef(config::Section section, const std::string& prefix, SecretRef* out) {
  const std::string file_key = prefix + "_file";
  const std::string env_key = prefix + "_env";
  section.Read(file_key, &out->file);
  section.Read(env_key, &out->env);
  section.Check(out->file.empty() || out->env.empty(), env_key,
                "set " + file_key + " or " + env_key + ", not both");
}

Result<std::string> LoadSecret(const SecretRef& ref) {
  if (!ref.env.empty()) {
    const char* v = std::getenv(ref.env.c_str());
    if (v == nullptr) return Status::NotFound("environment variable " + ref.env + " is not set");
    return std::string(v);
  }
  if (ref.file.empty()) return std::string();
  struct stat st {};
  if (::stat(ref.file.c_str(), &st) != 0) {
    return Status::NotFound("secret file " + ref.file + ": " + std::strerror(errno));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::FailedPrecondition("secret file " + ref.file +
                                      " is accessible by group or others; chmod 600 it");
  }
  std::ifstream in(ref.file, std::ios::binary);
  if (!in) return Status::NotFound("secret file " + ref.file + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

std::string DescribeSecret(const SecretRef& ref) {
  if (!ref.env.empty()) return "env " + ref.env;
  if (!ref.file.empty()) return "file " + ref.file;
  return "";
}

}  // namespace hw::consumer
