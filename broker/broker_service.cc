#include "broker/broker_service.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <thread>
#include <zmq.hpp>

#include "broker/backend.h"
#include "broker/broker_state.h"
#include "broker/curve_auth.h"
#include "broker/dedup_snapshot.h"
#include "broker/frontend.h"
#include "common/base/clock.h"

namespace hw::broker {
namespace {

class BrokerService final : public daemon::Service<BrokerConfig> {
 public:
  explicit BrokerService(BrokerConfig config) : config_(std::move(config)) {}
  ~BrokerService() override { Stop(); }

  Status Start() override {
    std::error_code ec;
    std::filesystem::create_directories(config_.data_dir, ec);
    if (ec) return Status::IoError("create data_dir " + config_.data_dir, ec.value());
    HW_RETURN_IF_ERROR(OpenJournal());
    HW_ASSIGN_OR_RETURN(SourceTable table, RecoverSourceTable(config_.data_dir, journal_));
    counters_.started_ms = RealClock().WallMs();

    ctx_ = std::make_unique<zmq::context_t>(2);
    if (config_.curve.enabled) {
      // The ZAP handler must be in place before any CURVE socket binds (fail closed otherwise).
      HW_ASSIGN_OR_RETURN(auto keys, LoadAuthorizedKeys(config_.curve.authorized_keys_dir));
      HW_ASSIGN_OR_RETURN(auto consumer_keys, LoadAuthorizedKeys(config_.curve.consumer_keys_dir));
      spdlog::info("CURVE on: {} authorized client keys in {}, {} consumer keys in {}", keys.size(),
                   config_.curve.authorized_keys_dir, consumer_keys.size(),
                   config_.curve.consumer_keys_dir);
      HW_ASSIGN_OR_RETURN(zap_,
                          ZapHandler::Start(*ctx_, std::move(keys), std::move(consumer_keys)));
    }
    // One notify endpoint per service instance: tests run several brokers in one process.
    const std::string notify =
        "inproc://hw-broker-notify-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    backend_ = std::make_unique<Backend>(config_, *ctx_, journal_, counters_, board_);
    HW_RETURN_IF_ERROR(backend_->Bind(notify));
    frontend_ =
        std::make_unique<Frontend>(config_, *ctx_, journal_, std::move(table), counters_, board_);
    HW_RETURN_IF_ERROR(frontend_->Bind(notify));

    backend_thread_ = std::jthread([this](std::stop_token st) { backend_->Run(st); });
    frontend_thread_ = std::jthread([this](std::stop_token st) {
      frontend_->Run(st);
      frontend_done_ = true;
    });
    spdlog::info("broker serving: frontend {} backend {} tap {} ({} partitions, {} journal bytes)",
                 config_.frontend, config_.backend, config_.tap, journal_.partitions.size(),
                 journal_.Bytes());
    return Status::Ok();
  }

  Status Reload(const BrokerConfig& next) override {
    if (next.frontend != config_.frontend || next.backend != config_.backend ||
        next.tap != config_.tap || next.data_dir != config_.data_dir ||
        next.partitions != config_.partitions || next.curve.enabled != config_.curve.enabled) {
      return Status::FailedPrecondition(
          "frontend, backend, tap, data_dir, partitions and curve.enabled cannot change on reload; "
          "restart");
    }
    if (zap_) {
      Result<std::map<std::string, std::string>> keys =
          LoadAuthorizedKeys(next.curve.authorized_keys_dir);
      if (!keys.ok()) return keys.status();
      Result<std::map<std::string, std::string>> consumer_keys =
          LoadAuthorizedKeys(next.curve.consumer_keys_dir);
      if (!consumer_keys.ok()) return consumer_keys.status();
      if (zap_->Reload(std::move(keys).value(), std::move(consumer_keys).value())) {
        // libzmq asks ZAP only at the handshake and cannot close one peer of a bound socket, so
        // every socket drops all its connections (unbind and bind again): the others reconnect
        // and pass ZAP again within a second, the revoked key does not (docs/wire_format.md §8).
        counters_.revoked_disconnects.fetch_add(1, std::memory_order_relaxed);
        if (frontend_) frontend_->ResetConnections();
        if (backend_) backend_->ResetConnections();
      }
    }
    if (frontend_) frontend_->SetFsync(next.fsync, next.fsync_interval);
    config_.fsync = next.fsync;
    config_.fsync_interval = next.fsync_interval;
    config_.log = next.log;
    return Status::Ok();
  }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (frontend_thread_.joinable()) {
      frontend_thread_.request_stop();
      frontend_thread_.join();
    }
    if (backend_thread_.joinable()) {
      backend_thread_.request_stop();
      backend_thread_.join();
    }
    if (frontend_) {
      if (Status s = frontend_->Flush(); !s.ok())
        spdlog::error("flushing the journal: {}", s.ToString());
    }
    if (backend_) (void)backend_->Flush();
    frontend_.reset();
    backend_.reset();
    zap_.reset();  // before the context closes
    ctx_.reset();
  }

  Status Health() override {
    if (frontend_done_ && !stopped_)
      return Status::Internal("the frontend stopped: journal writes failed (see log)");
    return Status::Ok();
  }

 private:
  Status OpenJournal() {
    for (uint32_t p = 0; p < config_.partitions; ++p) {
      PartitionOptions opts;
      char name[16];
      std::snprintf(name, sizeof name, "p%03u", p);
      opts.dir = std::filesystem::path(config_.data_dir) / name;
      opts.segment_bytes = config_.segment_bytes;
      opts.retention_bytes = config_.retention_bytes;
      opts.retention_age = config_.retention_age;
      opts.max_record_bytes = static_cast<uint32_t>(config_.max_message_bytes);
      PartitionRecovery rec;
      Result<std::unique_ptr<Partition>> part = Partition::Open(opts, &rec);
      if (!part.ok())
        return part.status().WithContext("opening journal partition " + std::to_string(p));
      if (rec.truncated_bytes > 0 || rec.corrupt_records > 0) {
        spdlog::warn(
            "partition {}: recovered {} records; cut a torn/corrupt tail of {} bytes; skipped {} "
            "corrupt "
            "records",
            p, rec.records, rec.truncated_bytes, rec.corrupt_records);
      }
      counters_.recovered_truncated_bytes += rec.truncated_bytes;
      counters_.recovered_corrupt_records += rec.corrupt_records;
      journal_.partitions.push_back(std::move(part).value());
    }
    return Status::Ok();
  }

  BrokerConfig config_;
  Journal journal_;
  BrokerCounters counters_;
  ProducerBoard board_;
  std::unique_ptr<zmq::context_t> ctx_;
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<Frontend> frontend_;
  std::unique_ptr<Backend> backend_;
  std::jthread frontend_thread_;
  std::jthread backend_thread_;
  std::atomic<bool> frontend_done_{false};
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<daemon::Service<BrokerConfig>> MakeBrokerService(const BrokerConfig& config) {
  return std::make_unique<BrokerService>(config);
}

}  // namespace hw::broker
