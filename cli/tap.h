// Reading the broker's live tap (docs/wire_format.md §1): a SUB socket on the PUB the broker
// republishes every appended envelope on, as [topic, envelope], topic
// "<samples|events|alerts>.<endpoint>". Lossy by design (a slow reader misses messages rather than
// slowing the broker): for live views only, never for anything that must see every message.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_options.h"
#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::cli {

struct TapMessage {
  std::string topic;  // "samples.web-01"
  hostwatch::v1::Envelope envelope;
};

class TapReader {
 public:
  // Subscribes to topics starting with any of `prefixes` ("samples.", "events.web-"); empty: all.
  static Result<std::unique_ptr<TapReader>> Open(const BrokerOptions& broker,
                                                 const std::vector<std::string>& prefixes);
  ~TapReader();
  // The next message within the timeout; nullopt on timeout. Messages that do not parse are
  // skipped and counted.
  Result<std::optional<TapMessage>> Next(std::chrono::milliseconds timeout);
  uint64_t malformed() const { return malformed_; }

 private:
  TapReader() = default;
  void* ctx_ = nullptr;
  void* sock_ = nullptr;
  uint64_t malformed_ = 0;
};

}  // namespace hw::cli
