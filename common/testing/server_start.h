// What starting a real server for a test takes, whichever server it is (servers.h): waiting for
// readiness while watching the process, a clear error with the log's tail, and ports distinct
// from those already taken. Used by redis_servers.cc, carbon_cache.cc and smtp_server.cc only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "common/testing/subprocess.h"

namespace hw::testing::internal {

// FreeLoopbackPort() closes its socket before the server binds; another process can take the port
// in between. Such a start fails fast (the server exits), so it is retried on fresh ports.
inline constexpr int kPortAttempts = 3;

// A blocking connect to ipv4:port (loopback: a closed port is refused at once).
bool TcpConnectsTo(const std::string& ipv4, uint16_t port);

std::string LogTail(const std::filesystem::path& log, size_t max_bytes = 2000);

enum class Readiness { kReady, kExited, kTimedOut };

// Waits for ready() while watching the process, so a server that dies at start-up (port taken, bad
// config) is reported at once rather than after the whole deadline.
Readiness AwaitReady(Subprocess& proc, const std::function<bool()>& ready,
                     std::chrono::milliseconds deadline);

// The error for a start that did not become ready, with the tail of its log.
Status NotReady(Readiness r, Subprocess& proc, std::string_view what,
                std::chrono::milliseconds deadline, const std::filesystem::path& log);

// argv += more (argument lists built in parts).
inline void Append(std::vector<std::string>& argv, std::initializer_list<std::string> more) {
  argv.insert(argv.end(), more.begin(), more.end());
}

// A free port that is not already in `taken` (two back-to-back FreeLoopbackPort calls may return
// the same number, since each closes its socket), recorded in `taken`.
Result<uint16_t> DistinctPort(std::vector<uint16_t>& taken);

}  // namespace hw::testing::internal
