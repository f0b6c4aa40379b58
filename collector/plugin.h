// The plugin contract. A plugin turns one look at the host into Points; the scheduler decides when.
//
// Lifecycle, all on the collector service's threads:
//   descriptor.read_options (config load, any thread, may run for --check-config without Create)
//   -> descriptor.create -> Start(sink) -> Collect ... Collect -> Stop() -> destroyed.
// Collect is called only by the scheduler thread, one call at a time, at each aligned tick of the
// plugin's interval. It must not block on anything but local file reads: work that can hang (exec)
// belongs on the plugin's own thread, which hands its Points to the sink instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "collector/host_env.h"
#include "collector/point.h"
#include "common/config/config.h"
#include "common/status/status.h"

namespace hw::collector {

// When a collection happens: the tick it belongs to (wall clock, stamped on every point) and a
// monotonic reading (for rates: the wall clock may jump, elapsed time must not).
struct CollectTime {
  int64_t wall_ms = 0;
  int64_t mono_ms = 0;
};

// Where Points go. Thread-safe: the scheduler and plugin-owned threads call it concurrently.
// Points must have time_ms and step_s set.
class PointSink {
 public:
  virtual ~PointSink() = default;
  virtual void Submit(std::vector<Point> points) = 0;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  // Called once before the first Collect. Plugins with their own thread start it here and keep
  // sink (it outlives Stop).
  virtual Status Start(PointSink* sink) {
    (void)sink;
    return Status::Ok();
  }
  // Appends this tick's points (without time_ms/step_s: the scheduler stamps them). Rate plugins
  // append none on their first call. An error is logged and counted by the scheduler; the points
  // appended before it are still sent.
  virtual Status Collect(const CollectTime& now, std::vector<Point>* out) = 0;
  // Stops the plugin's own thread, if any; must return promptly (exec kills its children).
  virtual void Stop() {}
  // True when the plugin schedules itself on its own thread (exec): the scheduler then never calls
  // Collect and only asks for SelfMetrics.
  virtual bool self_scheduled() const { return false; }
  // Plugin-specific hostwatch.collector.* figures (e.g. exec timeouts), from the scheduler thread.
  virtual void SelfMetrics(std::vector<Point>* out) { (void)out; }
};

// Plugin-specific settings, read and validated when the config is loaded. Immutable afterwards,
// shared between config copies.
class PluginOptions {
 public:
  virtual ~PluginOptions() = default;
  // Writes the plugin's own keys for --check-config (enabled and interval are written by the
  // caller).
  virtual void Describe(config::YamlWriter* w) const = 0;
};

struct PluginSetup {
  const HostEnv* env = nullptr;
  int64_t interval_ms = 10000;
  const PluginOptions* options = nullptr;  // what read_options returned (may be null)
};

// One built-in plugin: its config name and how to make it. The list is builtin_plugins.cc.
struct PluginDescriptor {
  std::string_view name;
  bool enabled_by_default = true;
  // Reads the keys of collector.plugins.<name> other than enabled/interval; errors go to section.
  // Null when the plugin has no options of its own.
  std::shared_ptr<const PluginOptions> (*read_options)(config::Section& section) = nullptr;
  Result<std::unique_ptr<Plugin>> (*create)(const PluginSetup& setup) = nullptr;
};

}  // namespace hw::collector
