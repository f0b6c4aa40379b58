#include "logwatch/engine.h"

#include <fnmatch.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "common/daemon/logging.h"
#include "common/io/atomic_file.h"
#include "common/naming/naming.h"

namespace hw::logwatch {
namespace {

namespace pb = hostwatch::v1;
using std::chrono::milliseconds;

constexpr uint64_t kReadBudget = 256 << 10;        // per file per ReadFile: one chunk
constexpr size_t kMaxBatchBytes = 1 << 20;         // publish events before a batch grows past this
constexpr milliseconds kEventFlushDelay{20};       // events wait at most this long to share a batch
constexpr milliseconds kStateWriteInterval{1000};  // offsets saved this often when only reading
constexpr milliseconds kDiscoverInterval{1000};    // glob re-expanded at least this often
constexpr milliseconds kStatInterval{250};         // the stat fallback when inotify is silent
// A capture cut to this many bytes stays within the 64 KiB field limit after SanitizeUtf8, which
// may triple invalid input (one U+FFFD per bad byte).
constexpr size_t kMaxCaptureBytes = naming::kMaxFieldValueBytes / 3;

std::vector<WatchSpec> SpecsOf(const LogwatchConfig& c) {
  std::vector<WatchSpec> specs;
  for (const FileConfig& f : c.files) specs.push_back({f.path, f.rules, f.from_beginning});
  return specs;
}

void AddSelf(pb::SampleBatch* b, const std::string& metric, double v, int64_t t, uint32_t step,
             pb::Sample::Kind kind, const std::string& path = "") {
  pb::Sample* s = b->add_samples();
  s->set_metric("hostwatch.logwatch." + metric);
  s->set_value(v);
  s->set_time_ms(t);
  s->set_step_s(step);
  s->set_kind(kind);
  if (!path.empty()) (*s->mutable_tags())["path"] = path;
}

}  // namespace

Engine::Engine(LogwatchConfig config, EngineOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock()) {
  state_path_ = std::filesystem::path(config_.state_dir) / "offsets";
  next_index_ = options_.spool_next_index;
  wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

Engine::~Engine() = default;

Status Engine::Start() {
  HW_ASSIGN_OR_RETURN(rules_, RuleSet::Compile(config_.rules));
  {
    MutexLock lock(&reload_mu_);
    compiled_ = rules_;
  }
  if (rules_->unfiltered_patterns() > 0) {
    spdlog::info(
        "{} rule patterns cannot be prefiltered by Vectorscan; RE2 runs them on every line",
        rules_->unfiltered_patterns());
  }
  processor_ = std::make_unique<RecordProcessor>(rules_, config_.max_line_bytes, false, &clock_);
  suppressed_.assign(rules_->size(), 0);
  buckets_.assign(rules_->size(), Bucket());
  tailer_ = std::make_unique<Tailer>(SpecsOf(config_), config_.max_line_bytes, options_.rotate_wait,
                                     this, &clock_);
  tailer_->Init();

  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir, ec);
  if (ec) return Status::IoError("create " + config_.state_dir, ec.value());
  Result<std::string> text = io::ReadWholeFile(state_path_);
  if (text.ok()) {
    Result<StateFile> state = DecodeState(*text);
    if (!state.ok()) {
      spdlog::error("{}: {}; following files as if for the first time", state_path_.string(),
                    state.status().message());
    } else {
      const Snapshot& s = ChooseSnapshot(*state, options_.spool_next_index);
      spdlog::info("offsets: {} files; the last publish {} in the spool", s.files.size(),
                   &s == &state->after ? "is" : "is not");
      stats_ = s.stats;
      interval_end_ms_ = s.interval_end_ms;
      counter_base_ = s.counters;
      tailer_->Restore(s.files,
                       [this](TailedFile& f, const FileState& saved) { OnRestored(f, saved); });
    }
  } else if (text.status().code() != StatusCode::kNotFound) {
    return text.status();
  }
  tailer_->Discover(/*startup=*/true);
  last_discover_ms_ = clock_.MonoMs();
  if (interval_end_ms_ == 0) interval_end_ms_ = NextIntervalEnd(NowMs());
  committed_ = Take();
  // The state as restored (and what was found at start) is the new baseline.
  return WriteState(committed_, committed_, next_index_);
}

int64_t Engine::NowMs() const { return clock_.WallMs(); }

int64_t Engine::NextIntervalEnd(int64_t now_ms) const {
  return NextAligned(now_ms, config_.interval.count());  // like the collector's
}

Snapshot Engine::Take() const {
  Snapshot s;
  s.files = tailer_->Snapshot();
  // Multiline records in progress, so a restart can replay their lines (OnRestored).
  const auto& files = tailer_->files();
  for (size_t i = 0; i < files.size(); ++i) {
    const auto it = files_.find(files[i]->id);
    if (it == files_.end()) continue;
    const FileRecords& records = it->second.records;
    for (size_t r : records.rules) {
      const FileRecords::Pending& p = records.pending[r];
      if (p.active) s.files[i].pending.emplace_back(rules_->rule(r).name, p.offset);
    }
  }
  s.interval_end_ms = interval_end_ms_;
  s.stats = stats_;
  s.counters = Counters();
  return s;
}

std::map<std::string, uint64_t> Engine::Counters() const {
  const TailerStats& ts = tailer_->stats();
  std::map<std::string, uint64_t> c = counter_base_;
  c["bytes_read"] += ts.bytes_read - std::min(ts.bytes_read, replayed_bytes_);
  c["lines_read"] += ts.lines_read - std::min(ts.lines_read, replayed_lines_);
  c["lines_matched"] += processor_->lines_matched();
  c["lines_truncated"] += ts.lines_truncated;
  c["events_published"] += events_published_;
  c["events_suppressed"] += events_suppressed_;
  c["value_parse_errors"] += value_errors_;
  c["truncations"] += ts.truncations;
  c["copytruncate_recovered_bytes"] += ts.recovered_bytes;
  c["copytruncate_lost_bytes"] += ts.lost_bytes;
  c["copytruncate_lost_lines"] += ts.lost_lines;
  return c;
}

Status Engine::WriteState(const Snapshot& before, const Snapshot& after, uint64_t mark) {
  StateFile f;
  f.mark = mark;
  f.before = before;
  f.after = after;
  HW_RETURN_IF_ERROR(io::WriteFileAtomic(state_path_, EncodeState(f)));
  last_state_write_ms_ = clock_.MonoMs();
  return Status::Ok();
}

Status Engine::PublishWithState(const pb::Envelope& env, const Snapshot& before,
                                const Snapshot& after) {
  // Phase one: "if spool record next_index_ exists, the state is `after`, else `before`".
  HW_RETURN_IF_ERROR(WriteState(before, after, next_index_));
  Status s = options_.publish(env);
  if (s.ok()) {
    ++next_index_;
    committed_ = after;
    dirty_ = false;
    return s;
  }
  if (s.code() == StatusCode::kInvalidArgument) {
    // Nothing was spooled, and it never will be: drop it (logged) rather than stop following.
    spdlog::error("dropping an envelope the validator refused: {}", s.message());
    committed_ = after;
    return WriteState(after, after, next_index_);
  }
  // The spool could not be written: whether the record is there is unknown here, and the spool
  // index with it. A restart reads the truth from the spool and the offsets file.
  return s.WithContext("publish");
}

Engine::PerFile& Engine::Of(const TailedFile& f) {
  if (last_file_ == nullptr || last_file_id_ != f.id) {
    last_file_ = &files_[f.id];  // std::map: the address holds until the entry is erased
    last_file_id_ = f.id;
  }
  return *last_file_;
}

void Engine::OnOpen(TailedFile& f) {
  const std::vector<std::string>& names = config_.files[f.spec].rules;
  FileRecords& records = Of(f).records;
  processor_->Attach(names, &records);
  for (size_t r : records.rules) {
    if (rules_->rule(r).emit_count) stats_.Track(rules_->rule(r).name, f.state.path);
  }
}

void Engine::OnRestored(const TailedFile& f, const FileState& saved) {
  if (f.state.offset >= saved.offset) return;
  // Lines in [offset, saved.offset) were seen by every rule except the multiline ones whose
  // record was still open: replay them to those only (RecordProcessor).
  FileRecords& records = Of(f).records;
  records.replay_until = saved.offset;
  for (const auto& [rule, off] : saved.pending) {
    const size_t r = rules_->Find(rule);
    if (r < records.replay_from.size() && records.applies[r]) records.replay_from[r] = off;
  }
}

void Engine::OnClose(TailedFile& f) {
  OnTruncated(f);
  files_.erase(f.id);
  last_file_ = nullptr;
}

void Engine::OnTruncated(TailedFile& f) {
  processor_->FlushIdle(f.state.path, clock_.MonoMs(), milliseconds(0), &Of(f).records, this);
}

void Engine::OnLine(TailedFile& f, std::string_view line, uint64_t offset, bool truncated) {
  dirty_ = true;
  FileRecords& records = Of(f).records;
  if (offset < records.replay_until) {
    // Read again after a restart for a multiline record in progress: counted in the last run.
    ++replayed_lines_;
    replayed_bytes_ += line.size() + 1;
  }
  processor_->OnLine(f.state.path, line, offset, truncated, &records, this);
}

void Engine::ReadFailed(const TailedFile& f, const Status& error) {
  ++read_errors_;
  last_read_error_ = error;
  if (auto n = Of(f).read_log.Allow()) {
    spdlog::warn("{}; reading it again from offset {} ({} more since)", error.ToString(),
                 f.state.offset, *n);
  }
}

void Engine::OnRecord(const Record& r) {
  const RuleConfig& rule = rules_->rule(r.rule);
  const std::string path(r.path);
  if (rule.emit_count) stats_.Count(rule.name, path);
  if (rule.emit_value) {
    for (size_t i = 0; i < rule.captures.size(); ++i) {
      if (!rule.values.empty() && std::find(rule.values.begin(), rule.values.end(),
                                            rule.captures[i]) == rule.values.end()) {
        continue;
      }
      const std::string_view text = (*r.groups)[i];
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) {
        ++value_errors_;
        continue;
      }
      stats_.Value(rule.name, rule.captures[i], path, v);
    }
  }
  if (!rule.emit_event) return;
  if (rule.max_events_per_s > 0) {
    // A token bucket: bursts up to one second's worth, then max_events_per_s.
    Bucket& b = buckets_[r.rule];
    const int64_t now = clock_.MonoMs();
    const double rate = rule.max_events_per_s;
    if (!b.started) {
      b.tokens = rate;
      b.last_ms = now;
      b.started = true;
    }
    b.tokens = std::min(rate, b.tokens + rate * static_cast<double>(now - b.last_ms) / 1000.0);
    b.last_ms = now;
    if (b.tokens < 1) {
      ++suppressed_[r.rule];
      ++events_suppressed_;
      stats_.Suppressed(rule.name, path);
      return;
    }
    b.tokens -= 1;
  }
  pb::LogEvent* e = events_.mutable_events()->add_events();
  e->set_path(naming::SanitizeUtf8(r.path));
  e->set_rule(rule.name);
  e->set_severity(rule.severity);
  e->set_line(r.text.data(), std::min<size_t>(r.text.size(), config_.max_line_bytes));
  e->set_truncated(r.truncated || r.text.size() > config_.max_line_bytes);
  for (size_t i = 0; i < rule.captures.size(); ++i) {
    (*e->mutable_fields())[rule.captures[i]] =
        naming::SanitizeUtf8((*r.groups)[i].substr(0, kMaxCaptureBytes));
  }
  e->set_time_ms(NowMs());
  e->set_offset(r.offset);
  e->set_suppressed(std::exchange(suppressed_[r.rule], 0));
  events_bytes_ += r.text.size() + 64 + path.size();
  for (size_t i = 0; i < r.groups->size(); ++i) {
    events_bytes_ +=
        (*r.groups)[i].size() + 16 + (i < rule.captures.size() ? rule.captures[i].size() : 0);
  }
}

Status Engine::FlushEvents() {
  if (events_.events().events_size() == 0) return Status::Ok();
  pb::EventBatch* b = events_.mutable_events();
  b->set_endpoint(options_.endpoint);
  for (const auto& [k, v] : config_.host_tags) (*b->mutable_host_tags())[k] = v;
  const int n = b->events_size();
  Status s = b->ByteSizeLong() <= kMaxBatchBytes ? PublishWithState(events_, committed_, Take())
                                                 : PublishInParts();
  events_.Clear();
  events_bytes_ = 0;
  last_event_flush_ms_ = clock_.MonoMs();
  if (s.ok()) events_published_ += static_cast<uint64_t>(n);
  return s;
}

// One read of kReadBudget bytes is checked against kMaxBatchBytes only when it ends, and a line
// may match many rules (each event carries its own copy of the line), so the events of one read
// can outgrow what the link accepts in an envelope (4 MiB). They go out in parts of at most
// kMaxBatchBytes. Only the last part carries the new read positions; the earlier ones carry the
// state as it was before the read, so a crash between two parts re-reads the lines and repeats
// the earlier parts' events rather than losing the later ones.
Status Engine::PublishInParts() {
  pb::EventBatch* all = events_.mutable_events();
  pb::Envelope part;
  pb::EventBatch* batch = part.mutable_events();
  batch->set_endpoint(all->endpoint());
  *batch->mutable_host_tags() = all->host_tags();
  const size_t header_bytes = batch->ByteSizeLong();
  const Snapshot after = Take();
  size_t bytes = header_bytes;
  for (pb::LogEvent& e : *all->mutable_events()) {
    const size_t one = e.ByteSizeLong() + 8;  // + the field's tag and length
    if (batch->events_size() > 0 && bytes + one > kMaxBatchBytes) {
      HW_RETURN_IF_ERROR(PublishWithState(part, committed_, committed_));
      batch->clear_events();
      bytes = header_bytes;
    }
    *batch->add_events() = std::move(e);
    bytes += one;
  }
  return PublishWithState(part, committed_, after);
}

void Engine::SelfMetrics(int64_t t, pb::SampleBatch* out) {
  const uint32_t step = static_cast<uint32_t>(config_.interval.count() / 1000);
  for (const auto& [name, v] : Counters()) {
    AddSelf(out, name, static_cast<double>(v), t, step, pb::Sample::COUNTER);
  }
  // Lag against the file's size now, not the size at the last read: that read went to the end
  // it saw, so the last-read size would show no lag exactly when the flush comes (at an interval
  // boundary) however far behind the writer is.
  std::map<std::string, uint64_t> lag;
  for (const auto& f : tailer_->files()) {
    struct stat sb;
    const uint64_t size =
        ::fstat(f->fd.get(), &sb) == 0 ? static_cast<uint64_t>(sb.st_size) : f->size;
    lag[f->state.path] += size - std::min(size, f->state.offset);
  }
  for (const auto& [path, bytes] : lag) {
    AddSelf(out, "lag_bytes", static_cast<double>(bytes), t, step, pb::Sample::GAUGE,
            naming::SanitizeUtf8(path));
  }
  AddSelf(out, "files_open", static_cast<double>(tailer_->files().size()), t, step,
          pb::Sample::GAUGE);
  if (options_.extra_samples) options_.extra_samples(t, out);
}

Status Engine::FlushInterval(int64_t time_ms) {
  HW_RETURN_IF_ERROR(FlushEvents());
  const Snapshot before = Take();
  pb::Envelope env;
  pb::SampleBatch* b = env.mutable_samples();
  b->set_endpoint(options_.endpoint);
  for (const auto& [k, v] : config_.host_tags) (*b->mutable_host_tags())[k] = v;
  const uint32_t step = static_cast<uint32_t>(config_.interval.count() / 1000);
  stats_.Drain(time_ms, step, b);
  SelfMetrics(time_ms, b);
  interval_end_ms_ = NextIntervalEnd(std::max(NowMs(), time_ms));
  return PublishWithState(env, before, Take());
}

Status Engine::Pass(bool discover, bool force) {
  if (discover) {
    tailer_->Discover(false);
    last_discover_ms_ = clock_.MonoMs();
  }
  bool more = true;
  while (more) {
    more = false;
    for (auto& f : tailer_->files()) {
      // A read error is not the end of f: it is not read further in this pass, and the next
      // pass starts again where the last good read ended.
      Result<bool> read = tailer_->ReadFile(*f, kReadBudget);
      if (read.ok()) {
        more |= *read;
      } else {
        ReadFailed(*f, read.status());
      }
      if (events_bytes_ >= kMaxBatchBytes) HW_RETURN_IF_ERROR(FlushEvents());
    }
  }
  const int64_t now = clock_.MonoMs();
  for (auto& f : tailer_->files()) {
    processor_->FlushIdle(f->state.path, now, options_.multiline_idle, &Of(*f).records, this);
  }
  tailer_->CloseQuiet();
  if (events_.events().events_size() > 0 &&
      (force || now - last_event_flush_ms_ >= kEventFlushDelay.count())) {
    HW_RETURN_IF_ERROR(FlushEvents());
  }
  if (NowMs() >= interval_end_ms_) HW_RETURN_IF_ERROR(FlushInterval(interval_end_ms_));
  if (events_.events().events_size() == 0 && dirty_ &&
      (force || now - last_state_write_ms_ >= kStateWriteInterval.count())) {
    committed_ = Take();
    HW_RETURN_IF_ERROR(WriteState(committed_, committed_, next_index_));
    dirty_ = false;
  }
  return Status::Ok();
}

Status Engine::Finish() {
  HW_RETURN_IF_ERROR(FlushEvents());
  committed_ = Take();
  return WriteState(committed_, committed_, next_index_);
}

void Engine::Wake() {
  const uint64_t one = 1;
  ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  (void)n;
}

Status Engine::Reload(const LogwatchConfig& config) {
  // Compiled here, on the caller's thread (the daemon's signal handling), once: the engine thread
  // keeps reading lines with the old rules meanwhile (1,000 rules take seconds to compile), and
  // swaps at the top of its next pass. An error keeps the old rules.
  std::shared_ptr<const RuleSet> rules;
  {
    MutexLock lock(&reload_mu_);
    if (compiled_ != nullptr && compiled_->configs() == config.rules) rules = compiled_;
  }
  if (rules == nullptr) {
    HW_ASSIGN_OR_RETURN(rules, RuleSet::Compile(config.rules));
  }
  {
    MutexLock lock(&reload_mu_);
    reload_ = config;
    reload_rules_ = rules;
    compiled_ = std::move(rules);
  }
  Wake();
  return Status::Ok();
}

Status Engine::ApplyReload() {
  std::optional<LogwatchConfig> next;
  std::shared_ptr<const RuleSet> rules;
  {
    MutexLock lock(&reload_mu_);
    next.swap(reload_);
    rules.swap(reload_rules_);
  }
  if (!next) return Status::Ok();
  HW_RETURN_IF_ERROR(FlushEvents());
  for (auto& f : tailer_->files()) OnClose(*f);  // multiline records end with the old rules
  // Counts of rules that are gone are published with the interval they belong to.
  HW_RETURN_IF_ERROR(FlushInterval(interval_end_ms_));
  next->link = config_.link;  // the link is not reloaded: its spool holds the stream
  config_ = std::move(*next);
  rules_ = std::move(rules);
  counter_base_["lines_matched"] += processor_->lines_matched();  // the new processor counts from 0
  processor_ = std::make_unique<RecordProcessor>(rules_, config_.max_line_bytes, false, &clock_);
  suppressed_.assign(rules_->size(), 0);
  buckets_.assign(rules_->size(), Bucket());
  stats_ = IntervalStats();
  tailer_->set_specs(SpecsOf(config_));
  tailer_->set_max_line_bytes(config_.max_line_bytes);
  // Keep the offsets of files still watched; forget the others.
  auto& files = tailer_->files();
  for (auto it = files.begin(); it != files.end();) {
    size_t spec = config_.files.size();
    for (size_t i = 0; i < config_.files.size() && spec == config_.files.size(); ++i) {
      if (config_.files[i].path == (*it)->state.path ||
          ::fnmatch(config_.files[i].path.c_str(), (*it)->state.path.c_str(), 0) == 0) {
        spec = i;
      }
    }
    if (spec == config_.files.size()) {
      it = files.erase(it);
      continue;
    }
    (*it)->spec = spec;
    OnOpen(**it);
    ++it;
  }
  tailer_->Discover(false);
  interval_end_ms_ = NextIntervalEnd(NowMs());
  committed_ = Take();
  return WriteState(committed_, committed_, next_index_);
}

Status Engine::Loop(const std::atomic<bool>& stop) {
  // The first pass reads what is there at once (a backlog at start-up, `from: beginning`) rather
  // than after the first wait; later passes follow each wake-up.
  bool discover = false;
  while (!stop.load()) {
    HW_RETURN_IF_ERROR(ApplyReload());
    HW_RETURN_IF_ERROR(Pass(discover, false));
    milliseconds timeout = kStatInterval;
    if (events_.events().events_size() > 0) timeout = kEventFlushDelay;
    const int64_t to_interval = interval_end_ms_ - NowMs();
    timeout = std::clamp<milliseconds>(milliseconds(to_interval), milliseconds(0), timeout);
    const bool structural = tailer_->Wait(timeout, wake_fd_.get());
    uint64_t drained;
    ssize_t n = ::read(wake_fd_.get(), &drained, sizeof drained);
    (void)n;
    discover = structural || clock_.MonoMs() - last_discover_ms_ >= kDiscoverInterval.count();
  }
  return Status::Ok();
}

}  // namespace hw::logwatch
