// A real carbon-cache for tests (servers.h), and whisper read back through whisper-fetch.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <system_error>

#include "common/strings/strings.h"
#include "common/testing/server_start.h"
#include "common/testing/servers.h"
#include "common/testing/wait.h"

namespace hw::testing {

using namespace internal;  // NOLINT: the start helpers every server file shares
using std::chrono::milliseconds;
namespace fs = std::filesystem;

namespace {
constexpr milliseconds kCarbonReady(20'000);
}  // namespace

// ---------------------------------------------------------------------------------------------
// CarbonCache

Result<std::unique_ptr<CarbonCache>> CarbonCache::Start(const CarbonOptions& options) {
  HW_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  std::unique_ptr<CarbonCache> carbon(new CarbonCache(std::move(dir), options));
  Status last;
  std::vector<uint16_t> taken;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    HW_ASSIGN_OR_RETURN(carbon->line_port_, DistinctPort(taken));
    HW_ASSIGN_OR_RETURN(carbon->pickle_port_, DistinctPort(taken));
    HW_ASSIGN_OR_RETURN(carbon->query_port_, DistinctPort(taken));
    last = carbon->Launch();
    if (last.ok()) return carbon;
    if (last.code() != StatusCode::kUnavailable) break;
  }
  return last;
}

CarbonCache::~CarbonCache() {
  if (proc_) proc_->Stop();
}

void CarbonCache::Kill() {
  if (!proc_) return;
  proc_->Signal(SIGKILL);
  proc_->Wait(milliseconds(10'000));
  proc_.reset();
}

Status CarbonCache::Restart() {
  if (proc_) {
    proc_->Stop();
    proc_.reset();
  }
  return Launch();
}

Status CarbonCache::Launch() {
  const fs::path& w = dir_.path();
  const fs::path conf = w / "conf" / "carbon.conf";
  const fs::path out = w / "carbon.out";
  // USER must be empty (Debian's default config setuids to _graphite). Unlimited rates and cache,
  // so tests never wait on carbon's throttles; no self-metrics and no tags, so whisper_dir() holds
  // only what a test sent.
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"USER", ""},
      {"STORAGE_DIR", (w / "storage").string()},
      {"LOCAL_DATA_DIR", whisper_dir().string()},
      {"LOG_DIR", (w / "log").string()},
      {"PID_DIR", w.string()},
      {"MAX_CACHE_SIZE", "inf"},
      {"MAX_UPDATES_PER_SECOND", "inf"},
      {"MAX_CREATES_PER_MINUTE", "inf"},
      {"LINE_RECEIVER_INTERFACE", options_.interface},
      {"LINE_RECEIVER_PORT", std::to_string(line_port_)},
      {"PICKLE_RECEIVER_INTERFACE", options_.interface},
      {"PICKLE_RECEIVER_PORT", std::to_string(pickle_port_)},
      {"CACHE_QUERY_INTERFACE", options_.interface},
      {"CACHE_QUERY_PORT", std::to_string(query_port_)},
      {"ENABLE_UDP_LISTENER", "False"},
      {"CACHE_WRITE_STRATEGY", "naive"},
      {"WHISPER_AUTOFLUSH", "True"},
      {"ENABLE_TAGS", "False"},
      {"CARBON_METRIC_INTERVAL", "0"},
      {"LOG_UPDATES", "True"},
      {"LOG_CREATES", "True"},
      {"LOG_LISTENER_CONN_SUCCESS", "False"},
  };
  std::string config = "[cache]\n";
  for (const auto& [key, value] : settings) config += key + " = " + value + "\n";
  HW_RETURN_IF_ERROR(WriteFile(conf, config));
  // carbon reads storage-schemas.conf from the folder of --config and refuses to start without it.
  HW_RETURN_IF_ERROR(WriteFile(w / "conf" / "storage-schemas.conf",
                               "[default]\npattern = .*\nretentions = 10s:1d\n"));
  std::error_code ec;
  fs::create_directories(whisper_dir(), ec);
  fs::create_directories(w / "log", ec);
  // A pidfile left by a failed attempt would make twistd refuse to start.
  fs::remove(w / "carbon-cache-a.pid", ec);

  SubprocessOptions opts;
  // The entry point's shebang is /usr/bin/python3, which has carbon; the pyenv python3 does not.
  opts.argv = {"/usr/bin/carbon-cache", "--config=" + conf.string(), "--nodaemon", "start"};
  opts.stdout_path = opts.stderr_path = out;
  HW_ASSIGN_OR_RETURN(Subprocess proc, Subprocess::Start(std::move(opts)));
  const std::vector<uint16_t> ports = {query_port_, line_port_, pickle_port_};  // opening order
  Readiness r = AwaitReady(
      proc,
      [&ports, this] {
        return std::all_of(ports.begin(), ports.end(),
                           [this](uint16_t p) { return TcpConnectsTo(options_.interface, p); });
      },
      kCarbonReady);
  if (r != Readiness::kReady) {
    proc.Stop();
    return NotReady(r, proc, "carbon-cache", kCarbonReady, out);
  }
  proc_.emplace(std::move(proc));
  return Status::Ok();
}

fs::path CarbonCache::WhisperFile(std::string_view metric_path) const {
  std::string rel(metric_path);
  std::replace(rel.begin(), rel.end(), '.', '/');
  return whisper_dir() / (rel + ".wsp");
}

namespace {

// Reads `"key" : <integer>` from whisper-fetch's fixed JSON layout.
std::optional<int64_t> JsonInt(std::string_view json, std::string_view key) {
  size_t pos = json.find("\"" + std::string(key) + "\"");
  if (pos == std::string_view::npos) return std::nullopt;
  pos = json.find(':', pos);
  if (pos == std::string_view::npos) return std::nullopt;
  pos = json.find_first_not_of(" \t\r\n", pos + 1);
  if (pos == std::string_view::npos) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(json.data() + pos, json.data() + json.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

}  // namespace

Result<std::vector<std::pair<int64_t, std::optional<double>>>> CarbonCache::Fetch(
    std::string_view metric_path, int64_t from_s, int64_t until_s) const {
  return FetchFile(WhisperFile(metric_path), from_s, until_s);
}

Result<std::vector<std::pair<int64_t, std::optional<double>>>> CarbonCache::FetchFile(
    const fs::path& file, int64_t from_s, int64_t until_s) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return Status::NotFound(file.string() + " does not exist (yet)");
  std::string out;
  HW_ASSIGN_OR_RETURN(
      int code, RunCommand({"/usr/bin/whisper-fetch", "--json", "--from=" + std::to_string(from_s),
                            "--until=" + std::to_string(until_s), file.string()},
                           &out, milliseconds(30'000)));
  if (code != 0) {
    return Status::Internal("whisper-fetch " + file.string() + " exited " + std::to_string(code) +
                            ": " + out);
  }
  // {"start" : S, "end" : E, "step" : 10, "values" : [1.5, 2.5, null]}; values[i] is at S + i*step.
  std::optional<int64_t> start = JsonInt(out, "start");
  std::optional<int64_t> step = JsonInt(out, "step");
  size_t open = out.find('[');
  size_t close = out.find(']', open == std::string::npos ? 0 : open);
  if (!start || !step || open == std::string::npos || close == std::string::npos) {
    return Status::DataLoss("unexpected whisper-fetch output: " + out);
  }
  std::vector<std::pair<int64_t, std::optional<double>>> points;
  std::string_view list = std::string_view(out).substr(open + 1, close - open - 1);
  int64_t t = *start;
  if (strings::Trim(list).empty()) return points;
  for (std::string_view raw : strings::Split(list, ',')) {
    const std::string_view item = strings::Trim(raw);
    if (item == "null") {
      points.emplace_back(t, std::nullopt);
    } else if (std::optional<double> v = strings::ParseNumber<double>(item)) {
      points.emplace_back(t, *v);
    } else {
      return Status::DataLoss("bad value '" + std::string(item) + "' from whisper-fetch");
    }
    t += *step;
  }
  return points;
}

}  // namespace hw::testing
