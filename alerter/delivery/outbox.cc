#include "alerter/delivery/outbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include "common/io/atomic_file.h"
#include "common/io/crc32c.h"
#include "common/io/file_io.h"
#include "common/strings/fnv1a.h"

namespace hw::alerter::delivery {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kMagic = "HWOBOX1\n";
constexpr size_t kMaxNameBytes = 160;  // well below NAME_MAX with ".job.tmp" and ".corrupt"

void PutString(std::string* out, std::string_view s) {
  io::AppendFixed32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U32(uint32_t* v) {
    if (in_.size() < 4) return false;
    *v = io::GetFixed32(in_.data());
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = io::GetFixed64(in_.data());
    in_.remove_prefix(8);
    return true;
  }
  bool Str(std::string* s) {
    uint32_t n = 0;
    if (!U32(&n) || in_.size() < n) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

void SyncDir(const fs::path& dir) {
  io::UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.valid()) fsync(fd.get());
}

Status RenameDurably(const fs::path& from, const fs::path& to) {
  if (rename(from.c_str(), to.c_str()) != 0) {
    return Status::IoError("rename " + from.string() + " to " + to.string(), errno);
  }
  SyncDir(to.parent_path());
  SyncDir(from.parent_path());
  return Status::Ok();
}

}  // namespace

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kMail:
      return "mail";
    case Channel::kWebhook:
      return "webhook";
    case Channel::kAlertmanager:
      return "alertmanager";
    case Channel::kExec:
      return "exec";
  }
  return "unknown";
}

std::string EncodeJob(const OutboxJob& job) {
  std::string body;
  io::AppendFixed64(&body, static_cast<uint64_t>(job.created_ms));
  io::AppendFixed32(&body, static_cast<uint32_t>(job.channel));
  PutString(&body, job.receiver);
  PutString(&body, job.notification_id);
  PutString(&body, job.target);
  io::AppendFixed32(&body, static_cast<uint32_t>(job.recipients.size()));
  for (const std::string& r : job.recipients) PutString(&body, r);
  PutString(&body, job.summary);
  PutString(&body, job.payload);
  std::string out(kMagic);
  io::AppendFixed32(&out, io::Crc32c(body));
  out += body;
  return out;
}

Result<OutboxJob> DecodeJob(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 4 || bytes.substr(0, kMagic.size()) != kMagic) {
    return Status::DataLoss("not an outbox job (bad magic)");
  }
  const uint32_t crc = io::GetFixed32(bytes.data() + kMagic.size());
  const std::string_view body = bytes.substr(kMagic.size() + 4);
  if (io::Crc32c(body) != crc) return Status::DataLoss("outbox job fails its checksum");
  Reader r(body);
  OutboxJob job;
  uint64_t created = 0;
  uint32_t channel = 0, nrecipients = 0;
  bool ok = r.U64(&created) && r.U32(&channel) && r.Str(&job.receiver) &&
            r.Str(&job.notification_id) && r.Str(&job.target) && r.U32(&nrecipients);
  if (ok && nrecipients > 10000) ok = false;
  for (uint32_t i = 0; ok && i < nrecipients; ++i) {
    job.recipients.emplace_back();
    ok = r.Str(&job.recipients.back());
  }
  ok = ok && r.Str(&job.summary) && r.Str(&job.payload) && r.done();
  if (!ok || channel < 1 || channel > 4) return Status::DataLoss("outbox job is malformed");
  job.created_ms = static_cast<int64_t>(created);
  job.channel = static_cast<Channel>(channel);
  return job;
}

Result<Outbox> Outbox::Open(const fs::path& dir) {
  std::error_code ec;
  for (const fs::path& d : {dir, dir / "sent", dir / "failed"}) {
    fs::create_directories(d, ec);
    if (ec) return Status::IoError("create " + d.string(), ec.value());
  }
  for (const fs::path& d : {dir, dir / "sent"}) {
    for (const auto& entry : fs::directory_iterator(d, ec)) {
      if (entry.path().extension() == ".tmp") fs::remove(entry.path(), ec);
    }
    if (ec) return Status::IoError("list " + d.string(), ec.value());
  }
  return Outbox(dir);
}

std::string Outbox::JobName(std::string_view notification_id, Channel c) {
  std::string name;
  for (char ch : notification_id) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-') {
      name.push_back(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "_%02X", u);
      name += buf;
    }
  }
  if (name.size() > kMaxNameBytes) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>(strings::Fnv1a64(notification_id)));
    name = name.substr(0, kMaxNameBytes - 20) + "~" + buf;
  }
  return name + "." + std::string(ChannelName(c));
}

fs::path Outbox::JobPath(const OutboxJob& job) const { return dir_ / (job.name + ".job"); }

Result<std::vector<OutboxJob>> Outbox::Recover(size_t* corrupt) const {
  std::vector<OutboxJob> jobs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".job") continue;
    HW_ASSIGN_OR_RETURN(std::string bytes, io::ReadWholeFile(entry.path()));
    Result<OutboxJob> job = DecodeJob(bytes);
    if (!job.ok()) {
      ++*corrupt;
      const fs::path aside = dir_ / "failed" / (entry.path().filename().string() + ".corrupt");
      HW_RETURN_IF_ERROR(RenameDurably(entry.path(), aside));
      continue;
    }
    job->name = entry.path().stem().string();
    jobs.push_back(std::move(job).value());
  }
  if (ec) return Status::IoError("list " + dir_.string(), ec.value());
  std::sort(jobs.begin(), jobs.end(), [](const OutboxJob& a, const OutboxJob& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.name < b.name;
  });
  return jobs;
}

Status Outbox::Put(const OutboxJob& job) const {
  return io::WriteFileAtomic(JobPath(job), EncodeJob(job));
}

Status Outbox::Remove(const OutboxJob& job) const {
  if (job.name.empty()) return Status::Ok();
  if (unlink(JobPath(job).c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("remove " + JobPath(job).string(), errno);
  }
  SyncDir(dir_);
  return Status::Ok();
}

Status Outbox::MoveToFailed(const OutboxJob& job) const {
  if (job.name.empty()) return Status::Ok();
  return RenameDurably(JobPath(job), dir_ / "failed" / (job.name + ".job"));
}

Status Outbox::WriteSent(const OutboxJob& job) const {
  HW_RETURN_IF_ERROR(io::WriteFileAtomic(dir_ / "sent" / (job.name + ".eml"), job.payload));
  return Remove(job);
}

Result<size_t> Outbox::Prune(fs::file_time_type before) const {
  size_t removed = 0;
  for (const char* sub : {"sent", "failed"}) {
    std::error_code ec;
    for (fs::directory_iterator it(dir_ / sub, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code fec;
      if (!it->is_regular_file(fec) || fec) continue;
      const fs::file_time_type mtime = it->last_write_time(fec);
      if (fec || mtime >= before) continue;
      // Gone already (a person tidied up) is as good as removed.
      if (fs::remove(it->path(), fec) || !fec) ++removed;
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return Status::IoError("listing " + (dir_ / sub).string(), ec.value());
    }
  }
  return removed;
}

}  // namespace hw::alerter::delivery
