#include "collector/plugins/pressure/pressure_plugin.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "collector/proc_text.h"
#include "common/io/file_io.h"

namespace hw::collector {
namespace {

struct Resource {
  std::string_view name;  // the file under pressure/ and the middle of the metric name
  bool full;              // whether its "full" line is sent
};
constexpr std::array<Resource, 3> kResources = {{{"cpu", false}, {"memory", true}, {"io", true}}};

// Whether a pressure file that failed to read is one this kernel does not have (see the skip rule
// in the header). ProcFile's Status carries no errno, so the file is opened again to ask; this
// runs only after a failure.
bool KernelHasNoPsi(const std::string& path) {
  io::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno == ENOENT;
  char c;
  return ::read(fd.get(), &c, 1) < 0 && errno == EOPNOTSUPP;
}

class PressurePlugin : public Plugin {
 public:
  explicit PressurePlugin(const HostEnv& env)
      : files_{ProcFile(env, env.Proc("pressure/cpu")), ProcFile(env, env.Proc("pressure/memory")),
               ProcFile(env, env.Proc("pressure/io"))} {}

  Status Collect(const CollectTime&, std::vector<Point>* out) override {
    Status first_error;
    auto note = [&first_error](const Status& s) {
      if (!s.ok() && first_error.ok()) first_error = s;
    };
    // Each file is independent: one unreadable or malformed file must not hide the others.
    for (size_t i = 0; i < kResources.size(); ++i) {
      if (Status s = files_[i].Read(&buf_); !s.ok()) {
        if (!KernelHasNoPsi(files_[i].path())) note(s);
        continue;
      }
      note(Parse(kResources[i], files_[i].path(), out));
    }
    return first_error;
  }

 private:
  // "some avg10=1.23 avg60=0.50 avg300=0.10 total=123456" and a "full" line alike.
  Status Parse(const Resource& r, const std::string& path, std::vector<Point>* out) const {
    bool some = false, full = false;
    ForEachLine(buf_, [&](std::string_view line) {
      std::vector<std::string_view> f = SplitFields(line);
      if (f.size() < 2 || !f[1].starts_with("avg10=")) return;
      const bool is_some = f[0] == "some";
      if (!is_some && !(f[0] == "full" && r.full)) return;
      if (auto v = ParseDouble(f[1].substr(6))) {
        Emit(out, "pressure." + std::string(r.name) + "." + std::string(f[0]), *v);
        (is_some ? some : full) = true;
      }
    });
    if (!some || (r.full && !full)) {
      return Status::DataLoss(path + (some ? ": no full avg10" : ": no some avg10"));
    }
    return Status::Ok();
  }

  std::array<ProcFile, kResources.size()> files_;  // in kResources' order
  std::string buf_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreatePressurePlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<PressurePlugin>(*setup.env));
}

}  // namespace hw::collector
