#include "alerter/delivery/delivery.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <set>
#include <thread>

#include "alerter/delivery/channel_worker.h"
#include "alerter/delivery/json_payloads.h"
#include "alerter/delivery/mail_format.h"
#include "alerter/delivery/outbox.h"
#include "alerter/delivery/senders.h"
#include "common/base/mutex.h"
#include "common/io/atomic_file.h"
#include "common/io/crc32c.h"
#include "common/io/file_io.h"
#include "common/strings/strings.h"

namespace hw::alerter {

Result<std::unique_ptr<Delivery>> CreateDelivery(const DeliveryConfig& c) {
  HW_ASSIGN_OR_RETURN(auto d, delivery::OutboxDelivery::Open(c));
  return std::unique_ptr<Delivery>(std::move(d));
}

}  // namespace hw::alerter

namespace hw::alerter::delivery {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kStateMagic = "HWAMST1\n";

std::string EncodeState(const std::map<std::string, std::map<std::string, std::string>>& active) {
  std::string body;
  auto put = [&body](std::string_view s) {
    io::AppendFixed32(&body, static_cast<uint32_t>(s.size()));
    body.append(s);
  };
  for (const auto& [receiver, alerts] : active) {
    for (const auto& [key, json] : alerts) {
      put(receiver);
      put(key);
      put(json);
    }
  }
  std::string out(kStateMagic);
  io::AppendFixed32(&out, io::Crc32c(body));
  return out + body;
}

bool DecodeState(std::string_view in,
                 std::map<std::string, std::map<std::string, std::string>>* active) {
  if (in.size() < kStateMagic.size() + 4 || in.substr(0, kStateMagic.size()) != kStateMagic) {
    return false;
  }
  const uint32_t crc = io::GetFixed32(in.data() + kStateMagic.size());
  std::string_view body = in.substr(kStateMagic.size() + 4);
  if (io::Crc32c(body) != crc) return false;
  auto get = [&body](std::string* s) {
    if (body.size() < 4) return false;
    const uint32_t n = io::GetFixed32(body.data());
    if (body.size() - 4 < n) return false;
    s->assign(body.data() + 4, n);
    body.remove_prefix(4 + n);
    return true;
  };
  while (!body.empty()) {
    std::string receiver, key, json;
    if (!get(&receiver) || !get(&key) || !get(&json)) return false;
    (*active)[receiver][key] = std::move(json);
  }
  return true;
}

std::string JoinArray(const std::map<std::string, std::string>& alerts) {
  std::string out = "[";
  for (const auto& [key, json] : alerts) {
    if (out.size() > 1) out += ',';
    out += json;
  }
  return out + "]";
}

std::string AlertmanagerUrl(const std::string& base) {
  std::string url = base;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + "/api/v2/alerts";
}

Status ValidateConfig(const DeliveryConfig& c) {
  if (!IsPlainAddress(c.smtp.from)) {
    return Status::InvalidArgument("alerter.smtp.from: not a plain address: \"" + c.smtp.from +
                                   "\"");
  }
  for (const auto& [name, r] : c.receivers) {
    const std::string where = "alerter.receivers." + name + ".";
    for (const std::string& addr : r.email) {
      if (!IsPlainAddress(addr)) {
        return Status::InvalidArgument(where + "email: not a plain address: \"" + addr + "\"");
      }
    }
    for (const auto& [key, url] :
         {std::pair{"webhook", &r.webhook}, std::pair{"alertmanager", &r.alertmanager}}) {
      if (!url->empty() && url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
        return Status::InvalidArgument(
            where + key + ": must be an http:// or https:// URL, got \"" + *url + "\"");
      }
    }
    if (r.exec_timeout.count() <= 0) {
      return Status::InvalidArgument(where + "exec_timeout: must be positive");
    }
  }
  return Status::Ok();
}

}  // namespace

class OutboxDelivery::Impl {
 public:
  Impl(DeliveryConfig config, DeliveryOptions options, Outbox outbox)
      : config_(std::move(config)), options_(options), outbox_(std::move(outbox)) {}

  Status Init() {
    HW_RETURN_IF_ERROR(ValidateConfig(config_));
    if (!config_.smtp.url.empty()) {
      HW_ASSIGN_OR_RETURN(smtp_, SmtpSender::Create(config_.smtp));
    }
    {
      MutexLock lock(&am_mu_);
      Result<std::string> state = io::ReadWholeFile(StatePath());
      if (state.ok() && !DecodeState(*state, &active_)) {
        ++corrupt_;
        active_.clear();
        spdlog::error("delivery: {} is corrupt; Alertmanager re-posts start empty",
                      StatePath().string());
      } else if (!state.ok() && state.status().code() != StatusCode::kNotFound) {
        return state.status();
      }
    }
    {
      MutexLock lock(&ids_mu_);
      Result<std::string> ids = io::ReadWholeFile(IdsPath());
      if (ids.ok()) {
        for (std::string_view v : strings::Split(*ids, '\n')) {
          std::string id(v);
          if (!id.empty() && enqueued_ids_.insert(id).second) id_order_.push_back(std::move(id));
        }
      } else if (ids.status().code() != StatusCode::kNotFound) {
        return ids.status();
      }
    }
    size_t corrupt = 0;
    HW_ASSIGN_OR_RETURN(std::vector<OutboxJob> jobs, outbox_.Recover(&corrupt));
    corrupt_ += corrupt;
    recovered_ = jobs.size();
    if (!jobs.empty() || corrupt > 0) {
      spdlog::info("delivery: {} jobs recovered from {} ({} corrupt)", jobs.size(),
                   outbox_.dir().string(), corrupt);
    }

    http_ = std::make_unique<HttpSender>(options_.http_timeout);
    am_http_ = std::make_unique<HttpSender>(options_.http_timeout);
    auto make = [this](Channel ch, ChannelWorker::SendFn fn) {
      return std::make_unique<ChannelWorker>(ch, std::move(fn), &outbox_, &StatsFor(ch), &pending_,
                                             options_);
    };
    mail_ = make(Channel::kMail,
                 [this](const OutboxJob& j, const AbortFn& a) { return SendMail(j, a); });
    webhook_ = make(Channel::kWebhook, [this](const OutboxJob& j, const AbortFn& a) {
      return http_->Post(j.target, j.payload, a);
    });
    alertmanager_ = make(Channel::kAlertmanager, [this](const OutboxJob& j, const AbortFn& a) {
      return am_http_->Post(j.target, j.payload, a);
    });
    exec_ = make(Channel::kExec,
                 [this](const OutboxJob& j, const AbortFn& a) { return RunExec(j, a); });
    for (OutboxJob& job : jobs) {
      ++pending_;
      const std::string lane = LaneOf(job);
      ChannelWorkerFor(job.channel).Add(std::move(job), lane);
    }
    for (ChannelWorker* w : ChannelWorkers()) w->Start();
    return Status::Ok();
  }

  Status Enqueue(const Notification& given) {
    // A notification without a time would be dated 1970 and sorted first in the outbox.
    Notification dated;
    if (given.time_ms <= 0) {
      dated = given;
      dated.time_ms = std::chrono::duration_cast<milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    }
    const Notification& n = given.time_ms <= 0 ? dated : given;
    // The alerter hands a notification over again (same id) when it crashed after Enqueue and
    // before saving its state: a repeat of an id this outbox already took is not sent twice.
    MutexLock ids_lock(&ids_mu_);
    if (enqueued_ids_.count(n.id) > 0) {
      ++repeats_;
      spdlog::info("delivery: {} was enqueued before; not sent again", n.id);
      return Status::Ok();
    }
    auto it = config_.receivers.find(n.receiver);
    if (it == config_.receivers.end()) {
      return Status::InvalidArgument("delivery: no receiver named \"" + n.receiver + "\"");
    }
    const ReceiverConfig& r = it->second;
    const std::string summary = SanitizeHeaderValue(Subject(n));
    std::vector<OutboxJob> jobs;
    auto add = [&](Channel ch, std::string target, std::string payload) {
      OutboxJob job;
      job.name = Outbox::JobName(n.id, ch);
      job.channel = ch;
      job.receiver = n.receiver;
      job.notification_id = n.id;
      job.target = std::move(target);
      job.summary = summary;
      job.payload = std::move(payload);
      job.created_ms = n.time_ms;
      jobs.push_back(std::move(job));
    };
    if (!r.email.empty()) {
      add(Channel::kMail, config_.smtp.url,
          BuildMail(n, MailEnvelope{config_.smtp.from, r.email, config_.endpoint}));
      jobs.back().recipients = r.email;
    }
    if (!r.webhook.empty()) add(Channel::kWebhook, r.webhook, WebhookPayload(n));
    if (!r.exec.empty()) add(Channel::kExec, r.exec, WebhookPayload(n));
    if (!r.alertmanager.empty() && !n.alerts.empty()) {
      std::map<std::string, std::string> delta;
      for (const AlertView& a : n.alerts) delta[a.alert.key()] = AlertmanagerAlert(n, a);
      add(Channel::kAlertmanager, AlertmanagerUrl(r.alertmanager), JoinArray(delta));
      HW_RETURN_IF_ERROR(UpdateActive(n));
    }
    for (const OutboxJob& job : jobs) HW_RETURN_IF_ERROR(outbox_.Put(job));
    HW_RETURN_IF_ERROR(RememberId(n.id));
    ++enqueued_;
    for (OutboxJob& job : jobs) {
      ++pending_;
      const std::string lane = LaneOf(job);
      ChannelWorkerFor(job.channel).Add(std::move(job), lane);
    }
    return Status::Ok();
  }

  void Tick(int64_t now_ms) {
    PruneIfDue(now_ms);
    if (now_ms - last_repost_ms_.load() < options_.alertmanager_repost.count()) return;
    last_repost_ms_ = now_ms;
    MutexLock lock(&am_mu_);
    for (const auto& [receiver, alerts] : active_) {
      auto it = config_.receivers.find(receiver);
      if (alerts.empty() || it == config_.receivers.end() || it->second.alertmanager.empty()) {
        continue;
      }
      OutboxJob job;
      job.channel = Channel::kAlertmanager;
      job.receiver = receiver;
      job.notification_id = "repost";
      job.target = AlertmanagerUrl(it->second.alertmanager);
      job.summary = std::to_string(alerts.size()) + " firing alerts";
      job.payload = JoinArray(alerts);
      job.created_ms = now_ms;
      const std::string lane = job.target;
      alertmanager_->AddRepost(std::move(job), lane);
    }
  }

  void Stop(milliseconds deadline) {
    if (stopped_.exchange(true)) return;
    const Clock::time_point until = Clock::now() + deadline;
    for (ChannelWorker* w : ChannelWorkers()) w->RequestStop(until);
    for (ChannelWorker* w : ChannelWorkers()) w->Join();
    if (pending_ > 0) {
      spdlog::info("delivery: stopped with {} jobs left in {} for the next start", pending_.load(),
                   outbox_.dir().string());
    }
  }

  DeliveryStats Stats() const {
    DeliveryStats s;
    s.mail = mail_stats_.Load();
    s.webhook = webhook_stats_.Load();
    s.alertmanager = am_stats_.Load();
    s.exec = exec_stats_.Load();
    s.enqueued = enqueued_;
    s.recovered = recovered_;
    s.corrupt = corrupt_;
    s.pruned = pruned_;
    s.exec_timeouts = exec_timeouts_;
    s.pending = pending_;
    s.repeats = repeats_;
    return s;
  }

 private:
  // sent/ and failed/ would grow without end on a long-lived alerter: delete what is older than
  // outbox_keep, at the first Tick and then hourly (a directory scan; cheap at that rate).
  void PruneIfDue(int64_t now_ms) {
    if (config_.outbox_keep.count() <= 0) return;
    if (last_prune_ms_.load() != 0 && now_ms - last_prune_ms_.load() < 3'600'000) return;
    last_prune_ms_ = now_ms;
    auto n = outbox_.Prune(std::filesystem::file_time_type::clock::now() - config_.outbox_keep);
    if (!n.ok()) {
      spdlog::warn("delivery: pruning {}: {}", outbox_.dir().string(), n.status().ToString());
      return;
    }
    pruned_ += *n;
    if (*n > 0) {
      spdlog::info("delivery: removed {} files older than {} h from sent/ and failed/", *n,
                   std::chrono::duration_cast<std::chrono::hours>(config_.outbox_keep).count());
    }
  }

  std::filesystem::path StatePath() const { return outbox_.dir() / "alertmanager.state"; }

  std::string LaneOf(const OutboxJob& job) const {
    return job.channel == Channel::kMail ? (job.target.empty() ? "sent/" : job.target) : job.target;
  }

  AtomicChannelStats& StatsFor(Channel c) {
    switch (c) {
      case Channel::kMail:
        return mail_stats_;
      case Channel::kWebhook:
        return webhook_stats_;
      case Channel::kAlertmanager:
        return am_stats_;
      case Channel::kExec:
        return exec_stats_;
    }
    return mail_stats_;
  }

  ChannelWorker& ChannelWorkerFor(Channel c) {
    switch (c) {
      case Channel::kMail:
        return *mail_;
      case Channel::kWebhook:
        return *webhook_;
      case Channel::kAlertmanager:
        return *alertmanager_;
      case Channel::kExec:
        return *exec_;
    }
    return *mail_;
  }

  std::vector<ChannelWorker*> ChannelWorkers() {
    return {mail_.get(), webhook_.get(), alertmanager_.get(), exec_.get()};
  }

  Status UpdateActive(const Notification& n) EXCLUDES(am_mu_) {
    MutexLock lock(&am_mu_);
    auto& alerts = active_[n.receiver];
    for (const AlertView& a : n.alerts) {
      if (IsResolved(n, a)) {
        alerts.erase(a.alert.key());
      } else {
        alerts[a.alert.key()] = AlertmanagerAlert(n, a);
      }
    }
    return io::WriteFileAtomic(StatePath(), EncodeState(active_));
  }

  SendOutcome SendMail(const OutboxJob& job, const AbortFn& abort) {
    // A job stored while no SMTP server was configured, or none is now: write the .eml file.
    if (job.target.empty() || smtp_ == nullptr) {
      Status s = io::WriteFileAtomic(outbox_.dir() / "sent" / (job.name + ".eml"), job.payload);
      if (!s.ok()) return {SendOutcome::kRetry, s.ToString()};
      return {SendOutcome::kSent, "written to sent/"};
    }
    return smtp_->Send(job.recipients, job.payload, abort);
  }

  SendOutcome RunExec(const OutboxJob& job, const AbortFn& abort) {
    milliseconds timeout{10000};
    if (auto it = config_.receivers.find(job.receiver); it != config_.receivers.end()) {
      timeout = it->second.exec_timeout;
    }
    const ExecResult r = RunCommand(
        job.target, job.payload,
        {"HOSTWATCH_RECEIVER=" + job.receiver, "HOSTWATCH_NOTIFICATION_ID=" + job.notification_id},
        timeout, abort);
    std::string output = r.output.substr(0, 1000);
    for (char& c : output) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = ' ';
    }
    if (!r.error.empty()) return {SendOutcome::kRetry, r.error};
    if (r.timed_out) {
      ++exec_timeouts_;
      return {SendOutcome::kFailed,
              "killed after " + std::to_string(timeout.count()) + " ms; output: " + output};
    }
    if (r.exit_code != 0) {
      return {SendOutcome::kFailed,
              "exit status " + std::to_string(r.exit_code) + "; output: " + output};
    }
    spdlog::info("delivery: exec for {} ({}) exited 0; output: {}", job.receiver,
                 job.notification_id, output);
    return {SendOutcome::kSent, "exit status 0"};
  }

  std::filesystem::path IdsPath() const { return outbox_.dir() / "enqueued.ids"; }
  // The last kRememberedIds notification ids taken, saved (atomically) before Enqueue returns.
  Status RememberId(const std::string& id) REQUIRES(ids_mu_) {
    static constexpr size_t kRememberedIds = 1024;
    enqueued_ids_.insert(id);
    id_order_.push_back(id);
    while (id_order_.size() > kRememberedIds) {
      enqueued_ids_.erase(id_order_.front());
      id_order_.pop_front();
    }
    std::string text;
    for (const std::string& x : id_order_) text += x + "\n";
    return io::WriteFileAtomic(IdsPath(), text);
  }

  const DeliveryConfig config_;
  const DeliveryOptions options_;
  const Outbox outbox_;
  std::unique_ptr<SmtpSender> smtp_;            // used by the mail worker only
  std::unique_ptr<HttpSender> http_, am_http_;  // webhook worker, alertmanager worker
  AtomicChannelStats mail_stats_, webhook_stats_, am_stats_, exec_stats_;
  std::atomic<uint64_t> enqueued_{0}, recovered_{0}, corrupt_{0}, exec_timeouts_{0}, pending_{0};
  std::atomic<uint64_t> repeats_{0};
  Mutex ids_mu_;
  std::set<std::string> enqueued_ids_ GUARDED_BY(ids_mu_);
  std::deque<std::string> id_order_ GUARDED_BY(ids_mu_);
  std::atomic<int64_t> last_repost_ms_{0};
  std::atomic<int64_t> last_prune_ms_{0};
  std::atomic<uint64_t> pruned_{0};
  std::atomic<bool> stopped_{false};
  Mutex am_mu_;
  // receiver -> alert key -> its /api/v2/alerts JSON, for the firing alerts only.
  std::map<std::string, std::map<std::string, std::string>> active_ GUARDED_BY(am_mu_);
  std::unique_ptr<ChannelWorker> mail_, webhook_, alertmanager_, exec_;
};

Result<std::unique_ptr<OutboxDelivery>> OutboxDelivery::Open(const DeliveryConfig& config,
                                                             const DeliveryOptions& options) {
  HW_ASSIGN_OR_RETURN(Outbox outbox, Outbox::Open(config.outbox_dir));
  auto impl = std::make_unique<Impl>(config, options, std::move(outbox));
  HW_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<OutboxDelivery>(new OutboxDelivery(std::move(impl)));
}

OutboxDelivery::OutboxDelivery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutboxDelivery::~OutboxDelivery() { impl_->Stop(milliseconds(0)); }
Status OutboxDelivery::Enqueue(const Notification& n) { return impl_->Enqueue(n); }
void OutboxDelivery::Tick(int64_t now_ms) { impl_->Tick(now_ms); }
void OutboxDelivery::Stop(milliseconds deadline) { impl_->Stop(deadline); }
DeliveryStats OutboxDelivery::stats() const { return impl_->Stats(); }

}  // namespace hw::alerter::delivery
