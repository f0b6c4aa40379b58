#include "alerter/state_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "alerter/rules.h"
#include "common/io/atomic_file.h"
#include "common/io/crc32c.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
namespace st = hostwatch::alerter::v1;

constexpr size_t kHeader = 8;              // u32 length, u32 crc32c
constexpr uint32_t kMaxRecord = 1u << 30;  // a length past this is a torn header

std::string SeriesKey(const st::SeriesState& s) {
  return s.endpoint() + '\x1f' + SeriesName(s.metric(), s.tags());
}

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

Status WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("alerter: journal write", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

}  // namespace

void StateImage::Replace(const st::AlerterState& whole) {
  *this = StateImage();
  Apply(whole);
}

void StateImage::Apply(const st::AlerterState& d) {
  if (d.version() != 0) version_ = d.version();
  if (d.saved_ms() != 0) saved_ms_ = d.saved_ms();
  if (!d.epoch().empty()) epoch_ = d.epoch();
  for (const st::Position& p : d.positions()) positions_[{p.broker(), p.partition()}] = p.offset();
  for (const st::SeriesState& s : d.series()) series_[SeriesKey(s)] = s;
  for (const st::EventWindowState& e : d.events()) {
    events_[e.endpoint() + '\x1f' + e.event_rule()] = e;
  }
  for (const st::HostState& h : d.hosts()) hosts_[h.endpoint()] = h;
  // Removals first: a key both removed and present in one delta does not happen (the engine
  // writes each key once, as it stands), but the present state is the one to keep if it did.
  for (const std::string& key : d.removed_alerts()) alerts_.erase(key);
  for (const pb::Alert& a : d.alerts()) alerts_[a.key()] = a;
  for (const st::GroupState& g : d.groups()) groups_[g.receiver() + '\x1f' + g.rule()] = g;
  for (const st::ReceiverState& r : d.receivers()) receivers_[r.name()] = r;
}

st::AlerterState StateImage::ToProto() const {
  st::AlerterState out;
  out.set_version(version_);
  out.set_saved_ms(saved_ms_);
  out.set_epoch(epoch_);
  for (const auto& [key, offset] : positions_) {
    st::Position* p = out.add_positions();
    p->set_broker(key.first);
    p->set_partition(key.second);
    p->set_offset(offset);
  }
  for (const auto& [k, s] : series_) *out.add_series() = s;
  for (const auto& [k, e] : events_) *out.add_events() = e;
  for (const auto& [k, h] : hosts_) *out.add_hosts() = h;
  for (const auto& [k, a] : alerts_) *out.add_alerts() = a;
  for (const auto& [k, g] : groups_) *out.add_groups() = g;
  for (const auto& [k, r] : receivers_) *out.add_receivers() = r;
  return out;
}

StateStore::StateStore(std::filesystem::path dir, Options options)
    : dir_(std::move(dir)), options_(options) {
  if (options_.background) thread_ = std::thread([this] { Run(); });
}

StateStore::~StateStore() {
  if (thread_.joinable()) {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.SignalAll();
    thread_.join();
  }
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

std::filesystem::path StateStore::JournalPath(uint64_t generation) const {
  return dir_ / ("journal-" + std::to_string(generation) + ".log");
}

Status StateStore::Load(st::AlerterState* out, bool* found) {
  *found = false;
  const std::filesystem::path snap = dir_ / "state.pb";
  Result<std::string> bytes = io::ReadWholeFile(snap);
  if (!bytes.ok())
    return bytes.status().code() == StatusCode::kNotFound ? Status::Ok() : bytes.status();
  st::AlerterState state;
  if (!state.ParseFromString(*bytes)) {
    std::error_code ec;
    const auto aside = snap.string() + ".corrupt";
    std::filesystem::rename(snap, aside, ec);
    spdlog::error("alerter: {} does not parse; moved to {} and starting with empty state",
                  snap.string(), aside);
    return Status::Ok();
  }
  image_.Replace(state);
  generation_ = state.journal();
  snapshot_bytes_ = bytes->size();
  Result<std::string> journal = io::ReadWholeFile(JournalPath(generation_));
  size_t records = 0;
  if (journal.ok()) {
    const std::string& j = *journal;
    size_t pos = 0;
    st::AlerterState delta;
    while (j.size() - pos >= kHeader) {
      const uint32_t len = GetU32(j.data() + pos);
      const uint32_t crc = GetU32(j.data() + pos + 4);
      if (len > kMaxRecord || j.size() - pos - kHeader < len) break;
      const std::string_view body(j.data() + pos + kHeader, len);
      if (io::Crc32c(body) != crc || !delta.ParseFromArray(body.data(), static_cast<int>(len))) {
        break;
      }
      image_.Apply(delta);
      pos += kHeader + len;
      ++records;
    }
    if (pos != j.size()) {
      spdlog::warn("alerter: {}: {} bytes after the last whole record (a torn write) ignored",
                   JournalPath(generation_).string(), j.size() - pos);
    }
  } else if (journal.status().code() != StatusCode::kNotFound) {
    return journal.status();
  }
  // The next write is a snapshot of what was read, so appends never follow a torn record.
  must_snapshot_ = true;
  *out = image_.ToProto();
  *found = true;
  spdlog::info("alerter: state read from {} and {} journal records", snap.string(), records);
  return Status::Ok();
}

void StateStore::Submit(st::AlerterState delta, bool whole, std::vector<consumer::DeliveryId> done,
                        consumer::Finisher* finisher) {
  Job job{std::move(delta), whole, std::move(done), finisher};
  if (!options_.background) {
    Write(job);
    return;
  }
  {
    MutexLock lock(&mu_);
    queue_.push_back(std::move(job));
  }
  cv_.SignalAll();
}

void StateStore::Drain() {
  if (!options_.background) return;
  MutexLock lock(&mu_);
  while (!queue_.empty() || busy_) cv_.Wait(&mu_);
}

StateStoreStats StateStore::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

void StateStore::Run() {
  for (;;) {
    std::vector<Job> jobs;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stop_) cv_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, and everything is written
      jobs.swap(queue_);
      busy_ = true;
    }
    for (Job& job : jobs) Write(job);
    {
      MutexLock lock(&mu_);
      busy_ = false;
    }
    cv_.SignalAll();
  }
}

void StateStore::Write(Job& job) {
  if (job.whole) {
    image_.Replace(job.state);
  } else {
    image_.Apply(job.state);
  }
  if (!job.done.empty()) waiting_.emplace_back(job.finisher, std::move(job.done));
  Status s;
  bool snapshot =
      job.whole || must_snapshot_ ||
      (journal_bytes_ > options_.compact_min_bytes && journal_bytes_ > 2 * snapshot_bytes_);
  if (!snapshot) {
    std::string bytes;
    if (!job.state.SerializeToString(&bytes)) {
      s = Status::Internal("alerter: state delta does not serialize");
    } else {
      s = Append(bytes);
    }
    if (s.ok()) {
      MutexLock lock(&mu_);
      ++stats_.appends;
      stats_.journal_bytes = journal_bytes_;
    }
  } else {
    s = WriteSnapshot();
    if (s.ok()) {
      MutexLock lock(&mu_);
      ++stats_.snapshots;
      stats_.journal_bytes = journal_bytes_;
    }
  }
  if (!s.ok()) {
    must_snapshot_ = true;  // the journal may end in a torn record: the next write replaces it
    uint64_t errors = 0;
    {
      MutexLock lock(&mu_);
      errors = ++stats_.errors;
    }
    // Nothing is finished: the broker keeps the deliveries, and a restart replays them.
    if ((errors - 1) % 60 == 0) {
      spdlog::error("alerter: state not saved ({} failures): {}", errors, s.ToString());
    }
    holding_.store(!waiting_.empty(), std::memory_order_release);
    return;
  }
  for (auto& [finisher, ids] : waiting_) {
    if (finisher != nullptr) finisher->Finish(ids);
  }
  waiting_.clear();
  holding_.store(false, std::memory_order_release);
}

Status StateStore::WriteSnapshot() {
  const uint64_t next = generation_ + 1;
  st::AlerterState whole = image_.ToProto();
  whole.set_journal(next);
  std::string bytes;
  if (!whole.SerializeToString(&bytes))
    return Status::Internal("alerter: state does not serialize");
  // The new journal exists (empty) before the snapshot names it, so appends can follow at once.
  const int fd =
      ::open(JournalPath(next).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("alerter: open " + JournalPath(next).string(), errno);
  if (Status s = io::WriteFileAtomic(dir_ / "state.pb", bytes); !s.ok()) {
    ::close(fd);
    return s;
  }
  if (journal_fd_ >= 0) ::close(journal_fd_);
  journal_fd_ = fd;
  std::error_code ec;
  std::filesystem::remove(JournalPath(generation_), ec);  // superseded; harmless if it stays
  generation_ = next;
  journal_bytes_ = 0;
  snapshot_bytes_ = bytes.size();
  must_snapshot_ = false;
  return Status::Ok();
}

Status StateStore::Append(const std::string& bytes) {
  if (journal_fd_ < 0) return Status::FailedPrecondition("alerter: no journal open");
  char header[kHeader];
  PutU32(header, static_cast<uint32_t>(bytes.size()));
  PutU32(header + 4, io::Crc32c(bytes));
  std::string record;
  record.reserve(kHeader + bytes.size());
  record.append(header, kHeader).append(bytes);
  HW_RETURN_IF_ERROR(WriteAll(journal_fd_, record.data(), record.size()));
  if (::fdatasync(journal_fd_) != 0) return Status::IoError("alerter: journal fsync", errno);
  journal_bytes_ += record.size();
  return Status::Ok();
}

}  // namespace hw::alerter
