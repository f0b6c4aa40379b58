// Test-only: wait for a condition with a deadline (never a blind sleep), and loopback ports.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/status/status.h"

namespace hw::testing {

// Polls pred every `poll` until it returns true (-> true) or `deadline` has passed (-> false).
// pred is evaluated once more at the deadline, so a condition that becomes true while we sleep is
// not reported as a timeout.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
             std::chrono::milliseconds poll = std::chrono::milliseconds(20));

// True once a TCP connect to 127.0.0.1:port succeeds within the deadline.
bool WaitForTcpPort(uint16_t port, std::chrono::milliseconds deadline);

// A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, close). Another process
// may take it before the caller binds it; servers.h's servers retry a start that loses that race.
Result<uint16_t> FreeLoopbackPort();

}  // namespace hw::testing
