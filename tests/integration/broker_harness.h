// Test-only: a real hostwatch-broker process on loopback ports chosen at run time, in a temp dir.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/status/status.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"

namespace hw::testing {

struct BrokerProcessOptions {
  std::string extra_yaml;  // appended under `broker:` (indented by the caller with two spaces)
  std::string top_yaml;    // appended at the top level (e.g. a curve: section)
  uint32_t partitions = 4;
  bool launch = true;  // false: choose ports and write the config only; Restart() starts it later
};

class BrokerProcess {
 public:
  // Chooses ports, writes broker.yaml into dir and starts the broker; waits until the frontend port
  // accepts connections.
  static Result<std::unique_ptr<BrokerProcess>> Start(const std::filesystem::path& dir,
                                                      const BrokerProcessOptions& options = {});
  ~BrokerProcess();

  std::string frontend() const { return "tcp://127.0.0.1:" + std::to_string(frontend_port_); }
  std::string backend() const { return "tcp://127.0.0.1:" + std::to_string(backend_port_); }
  std::string tap() const { return "tcp://127.0.0.1:" + std::to_string(tap_port_); }
  uint16_t frontend_port() const { return frontend_port_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path log_path() const {
    return dir_ / ("broker." + std::to_string(starts_) + ".log");
  }
  std::string Log() const;

  // Restart on the same ports and data dir.
  Status Restart();
  void Kill9();
  int Stop();  // SIGTERM, returns the exit status
  bool Running();
  void Signal(int sig);
  pid_t pid() const;

 private:
  Status Launch();
  std::filesystem::path dir_;
  uint16_t frontend_port_ = 0, backend_port_ = 0, tap_port_ = 0;
  int starts_ = 0;
  std::optional<Subprocess> proc_;
};

}  // namespace hw::testing
