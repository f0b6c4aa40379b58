#include "common/testing/server_start.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::testing::internal {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

// A blocking connect to ipv4:port (loopback: a closed port is refused at once).
bool TcpConnectsTo(const std::string& ipv4, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return false;
  }
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  ::close(fd);
  return rc == 0;
}

std::string LogTail(const fs::path& log, size_t max_bytes) {
  Result<std::string> text = ReadFile(log);
  if (!text.ok()) return "(no log: " + text.status().message() + ")";
  if (text->size() > max_bytes) return "..." + text->substr(text->size() - max_bytes);
  return *text;
}

// Waits for ready() while watching the process, so a server that dies at start-up (port taken, bad
// config) is reported at once rather than after the whole deadline.
Readiness AwaitReady(Subprocess& proc, const std::function<bool()>& ready, milliseconds deadline) {
  bool exited = false;
  bool ok = WaitFor(
      [&] {
        if (!proc.Running()) {
          exited = true;
          return true;
        }
        return ready();
      },
      deadline);
  if (exited) return Readiness::kExited;
  return ok ? Readiness::kReady : Readiness::kTimedOut;
}

Status NotReady(Readiness r, Subprocess& proc, std::string_view what, milliseconds deadline,
                const fs::path& log) {
  if (r == Readiness::kExited) {
    return Status::Unavailable(std::string(what) + " exited with status " +
                               std::to_string(proc.exit_status().value_or(-1)) +
                               " before it was ready; " + log.string() + ":\n" + LogTail(log));
  }
  return Status::DeadlineExceeded(std::string(what) + " not ready after " +
                                  std::to_string(deadline.count()) + " ms; " + log.string() +
                                  ":\n" + LogTail(log));
}

// A free port that is not already in `taken` (two back-to-back FreeLoopbackPort calls may return
// the same number, since each closes its socket), recorded in `taken`.
Result<uint16_t> DistinctPort(std::vector<uint16_t>& taken) {
  for (int i = 0; i < 20; ++i) {
    HW_ASSIGN_OR_RETURN(uint16_t port, FreeLoopbackPort());
    if (std::find(taken.begin(), taken.end(), port) == taken.end()) {
      taken.push_back(port);
      return port;
    }
  }
  return Status::Unavailable("no distinct free loopback port after 20 tries");
}

}  // namespace hw::testing::internal
