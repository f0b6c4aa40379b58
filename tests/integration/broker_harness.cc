#include "tests/integration/broker_harness.h"

#include <signal.h>

#include "common/testing/wait.h"

namespace hw::testing {

Result<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(const std::filesystem::path& dir,
                                                            const BrokerProcessOptions& options) {
  auto b = std::unique_ptr<BrokerProcess>(new BrokerProcess());
  b->dir_ = dir;
  HW_ASSIGN_OR_RETURN(b->frontend_port_, FreeLoopbackPort());
  HW_ASSIGN_OR_RETURN(b->backend_port_, FreeLoopbackPort());
  HW_ASSIGN_OR_RETURN(b->tap_port_, FreeLoopbackPort());
  std::string yaml = "broker:\n  frontend: " + b->frontend() + "\n  backend: " + b->backend() +
                     "\n  tap: " + b->tap() + "\n  data_dir: " + b->data_dir().string() +
                     "\n  partitions: " + std::to_string(options.partitions) + "\n" +
                     options.extra_yaml + options.top_yaml + "log: {level: info}\n";
  HW_RETURN_IF_ERROR(WriteFile(dir / "broker.yaml", yaml));
  if (options.launch) HW_RETURN_IF_ERROR(b->Launch());
  return b;
}

BrokerProcess::~BrokerProcess() {
  if (proc_) proc_->Stop(std::chrono::seconds(10));
}

Status BrokerProcess::Launch() {
  ++starts_;
  SubprocessOptions opts;
  opts.argv = {HW_BINARY_DIR "/broker/hostwatch-broker", "--config",
               (dir_ / "broker.yaml").string()};
  opts.stderr_path = log_path();
  HW_ASSIGN_OR_RETURN(Subprocess p, Subprocess::Start(opts));
  proc_.emplace(std::move(p));
  if (!WaitForTcpPort(frontend_port_, std::chrono::seconds(20)) ||
      !WaitForTcpPort(backend_port_, std::chrono::seconds(5))) {
    return Status::Unavailable("broker did not open its ports; log:\n" + Log());
  }
  return Status::Ok();
}

std::string BrokerProcess::Log() const {
  std::string all;
  for (int i = 1; i <= starts_; ++i) {
    Result<std::string> r = ReadFile(dir_ / ("broker." + std::to_string(i) + ".log"));
    if (r.ok()) all += *r;
  }
  return all;
}

Status BrokerProcess::Restart() {
  if (proc_ && proc_->Running()) proc_->Stop(std::chrono::seconds(10));
  proc_.reset();
  return Launch();
}

void BrokerProcess::Kill9() {
  if (!proc_) return;
  proc_->Signal(SIGKILL);
  proc_->Wait(std::chrono::seconds(10));
}

int BrokerProcess::Stop() { return proc_ ? proc_->Stop(std::chrono::seconds(10)) : -1; }
void BrokerProcess::Signal(int sig) {
  if (proc_) proc_->Signal(sig);
}
bool BrokerProcess::Running() { return proc_ && proc_->Running(); }
pid_t BrokerProcess::pid() const { return proc_ ? proc_->pid() : -1; }

}  // namespace hw::testing
