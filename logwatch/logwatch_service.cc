#include "logwatch/logwatch_service.h"

#include <atomic>
#include <thread>

#include "common/base/mutex.h"
#include "common/naming/naming.h"
#include "common/spool/spool.h"
#include "common/transport/producer_link.h"
#include "logwatch/engine.h"

namespace hw::logwatch {
namespace {

namespace pb = hostwatch::v1;

class LogwatchService : public daemon::Service<LogwatchConfig> {
 public:
  explicit LogwatchService(LogwatchConfig config) : config_(std::move(config)) {}
  ~LogwatchService() override { Stop(); }

  Status Start() override {
    const std::string endpoint =
        config_.endpoint.empty() ? naming::LocalEndpoint() : config_.endpoint;
    // The spool's next index decides which half of the offsets file is true (state_file.h). Read
    // it before the link owns the spool (it is flock()ed), with the same recovery the link runs.
    uint64_t next_index = 1;
    {
      spool::SpoolOptions so;
      so.dir = config_.link.spool_dir;
      so.max_bytes = config_.link.spool_max_bytes;
      Result<std::unique_ptr<spool::Spool>> s = spool::Spool::Open(so);
      if (!s.ok()) return s.status().WithContext("logwatch spool");
      next_index = (*s)->next_index();
    }
    transport::ProducerOptions po;
    po.endpoint = endpoint;
    po.component = "logwatch";
    po.link = config_.link;
    HW_ASSIGN_OR_RETURN(link_, transport::ProducerLink::Start(po));

    EngineOptions eo;
    eo.endpoint = endpoint;
    eo.spool_next_index = next_index;
    transport::ProducerLink* link = link_.get();
    eo.publish = [link](const pb::Envelope& env) { return link->Publish(env); };
    eo.extra_samples = [link, this](int64_t t, pb::SampleBatch* b) {
      const transport::ProducerStats s = link->stats();
      const auto step = static_cast<uint32_t>(config_.interval.count() / 1000);
      for (const auto& [name, v, kind] :
           {std::tuple{"spool_bytes", s.spool_bytes, pb::Sample::GAUGE},
            std::tuple{"spool_dropped", s.spool_dropped, pb::Sample::COUNTER},
            std::tuple{"envelopes_acked", s.acked, pb::Sample::COUNTER}}) {
        pb::Sample* x = b->add_samples();
        x->set_metric(std::string("hostwatch.logwatch.") + name);
        x->set_value(static_cast<double>(v));
        x->set_time_ms(t);
        x->set_step_s(step);
        x->set_kind(kind);
      }
    };
    engine_ = std::make_unique<Engine>(config_, std::move(eo));
    HW_RETURN_IF_ERROR(engine_->Start());
    thread_ = std::thread([this] {
      Status s = engine_->Loop(stop_);
      if (!s.ok()) {
        MutexLock lock(&mu_);
        failure_ = s;
      }
    });
    return Status::Ok();
  }

  Status Reload(const LogwatchConfig& config) override {
    if (config.link.spool_dir != config_.link.spool_dir ||
        config.link.brokers != config_.link.brokers) {
      spdlog::warn("reload: link settings change only with a restart");
    }
    return engine_ ? engine_->Reload(config) : Status::Ok();
  }

  void Stop() override {
    if (thread_.joinable()) {
      stop_ = true;
      engine_->Wake();
      thread_.join();
      if (Status s = engine_->Finish(); !s.ok()) spdlog::error("saving offsets: {}", s.ToString());
    }
    if (link_) {
      link_->Stop(std::chrono::seconds(2));
      link_.reset();
    }
  }

  Status Health() override EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return failure_;
  }

 private:
  LogwatchConfig config_;
  std::unique_ptr<transport::ProducerLink> link_;
  std::unique_ptr<Engine> engine_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Mutex mu_;
  Status failure_ GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<daemon::Service<LogwatchConfig>>> MakeLogwatchService(
    const LogwatchConfig& config) {
  return std::unique_ptr<daemon::Service<LogwatchConfig>>(new LogwatchService(config));
}

}  // namespace hw::logwatch
