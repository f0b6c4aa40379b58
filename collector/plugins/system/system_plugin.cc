#include "collector/plugins/system/system_plugin.h"

#include "collector/proc_text.h"

namespace hw::collector {
namespace {

class SystemPlugin : public Plugin {
 public:
  explicit SystemPlugin(const HostEnv& env) : env_(env) {}

  Status Collect(const CollectTime&, std::vector<Point>* out) override {
    Status first_error;
    auto note = [&first_error](const Status& s) {
      if (!s.ok() && first_error.ok()) first_error = s;
    };
    // Each source is independent: one unreadable file must not hide the others.
    if (Status s = ReadTextFileInto(env_.Proc("uptime"), &buf_); s.ok()) {
      std::vector<std::string_view> f = SplitFields(Trim(buf_));
      if (auto up = f.empty() ? std::nullopt : ParseDouble(f[0])) Emit(out, "system.uptime_s", *up);
    } else {
      note(s);
    }
    if (Status s = ReadTextFileInto(env_.Proc("stat"), &buf_); s.ok()) {
      ForEachLine(buf_, [&](std::string_view line) {
        if (!line.starts_with("procs_running ")) return;
        if (auto v = ParseU64(Trim(line.substr(14)))) {
          Emit(out, "system.procs_running", static_cast<double>(*v));
        }
      });
    } else {
      note(s);
    }
    if (Status s = ReadTextFileInto(env_.Proc("loadavg"), &buf_); s.ok()) {
      std::vector<std::string_view> f = SplitFields(Trim(buf_));
      if (f.size() >= 4) {
        const size_t slash = f[3].find('/');
        if (slash != std::string_view::npos) {
          if (auto total = ParseU64(f[3].substr(slash + 1))) {
            Emit(out, "system.procs_total", static_cast<double>(*total));
          }
        }
      }
    } else {
      note(s);
    }
    if (Status s = ReadTextFileInto(env_.Proc("sys/fs/file-nr"), &buf_); s.ok()) {
      std::vector<std::string_view> f = SplitFields(Trim(buf_));
      if (f.size() >= 2) {
        auto allocated = ParseU64(f[0]);
        auto unused = ParseU64(f[1]);
        if (allocated && unused && *allocated >= *unused) {
          Emit(out, "system.fds_used", static_cast<double>(*allocated - *unused));
        }
      }
    } else {
      note(s);
    }
    return first_error;
  }

 private:
  const HostEnv env_;
  std::string buf_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreateSystemPlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<SystemPlugin>(*setup.env));
}

}  // namespace hw::collector
