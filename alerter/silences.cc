#include "alerter/silences.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <random>

#include "alerter/rules.h"
#include "common/config/config.h"
#include "common/io/atomic_file.h"

namespace hw::alerter {

bool Silence::Matches(const std::map<std::string, std::string>& labels) const {
  if (match.empty()) return false;
  for (const auto& [k, glob] : match) {
    auto it = labels.find(k);
    if (it == labels.end() || !GlobMatch(glob, it->second)) return false;
  }
  return true;
}

Result<std::vector<Silence>> LoadSilences(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return std::vector<Silence>{};
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadFile(path));
  std::vector<Silence> out;
  for (config::Section s : doc->root().List("silences")) {
    Silence sil;
    s.Read("id", &sil.id);
    s.Check(!sil.id.empty(), "id", "is required");
    s.Read("match", &sil.match);
    s.Read("starts_ms", &sil.starts_ms);
    s.Read("ends_ms", &sil.ends_ms);
    s.Check(sil.ends_ms > 0, "ends_ms", "is required");
    s.Read("comment", &sil.comment);
    s.Read("created_by", &sil.created_by);
    out.push_back(std::move(sil));
  }
  HW_RETURN_IF_ERROR(doc->Finish());
  return out;
}

Status SaveSilences(const std::string& path, const std::vector<Silence>& silences, int64_t now_ms) {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "silences" << YAML::Value << YAML::BeginSeq;
  for (const Silence& s : silences) {
    if (s.ends_ms < now_ms - 24 * 3600 * 1000LL) continue;
    e << YAML::BeginMap;
    e << YAML::Key << "id" << YAML::Value << YAML::DoubleQuoted << s.id;
    e << YAML::Key << "match" << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [k, v] : s.match)
      e << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
    e << YAML::EndMap;
    e << YAML::Key << "starts_ms" << YAML::Value << s.starts_ms;
    e << YAML::Key << "ends_ms" << YAML::Value << s.ends_ms;
    e << YAML::Key << "comment" << YAML::Value << YAML::DoubleQuoted << s.comment;
    e << YAML::Key << "created_by" << YAML::Value << YAML::DoubleQuoted << s.created_by;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
  std::string text =
      "# hostwatch-alerter silences: edit with `hostwatch silence add|list|expire`.\n" +
      std::string(e.c_str()) + "\n";
  return io::WriteFileAtomic(path, text);
}

std::string NewSilenceId() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

void SilenceWatcher::Poll() {
  struct stat st {};
  int64_t mtime_ns = 0, size = 0;
  uint64_t inode = 0;  // `silence add` renames a new file over the old one
  if (::stat(path_.c_str(), &st) == 0) {
    mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    size = static_cast<int64_t>(st.st_size);
    inode = static_cast<uint64_t>(st.st_ino);
  }
  if (mtime_ns == mtime_ns_ && size == size_ && inode == inode_) return;
  mtime_ns_ = mtime_ns;
  size_ = size;
  inode_ = inode;
  Result<std::vector<Silence>> loaded = LoadSilences(path_);
  if (!loaded.ok()) {
    spdlog::error("silences: keeping the previous {}: {}", silences_.size(),
                  loaded.status().message());
    return;
  }
  silences_ = std::move(loaded).value();
  ++reloads_;
  spdlog::info("silences: {} loaded from {}", silences_.size(), path_);
}

}  // namespace hw::alerter
