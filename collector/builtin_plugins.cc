#include "collector/builtin_plugins.h"

#include "collector/plugins/cpu/cpu_plugin.h"
#include "collector/plugins/disk/disk_plugin.h"
#include "collector/plugins/diskio/diskio_plugin.h"
#include "collector/plugins/exec/exec_plugin.h"
#include "collector/plugins/load/load_plugin.h"
#include "collector/plugins/memory/memory_plugin.h"
#include "collector/plugins/net/net_plugin.h"
#include "collector/plugins/pressure/pressure_plugin.h"
#include "collector/plugins/process/process_plugin.h"
#include "collector/plugins/system/system_plugin.h"
#include "collector/plugins/tcp/tcp_plugin.h"

namespace hw::collector {

namespace {
// One line per plugin: {name, enabled by default, options reader (or null), factory}.
constexpr PluginDescriptor kBuiltins[] = {
    {"cpu", true, ReadCpuOptions, CreateCpuPlugin},
    {"memory", true, nullptr, CreateMemoryPlugin},
    {"load", true, nullptr, CreateLoadPlugin},
    {"disk", true, ReadDiskOptions, CreateDiskPlugin},
    {"diskio", true, ReadDiskioOptions, CreateDiskioPlugin},
    {"net", true, ReadNetOptions, CreateNetPlugin},
    {"tcp", true, nullptr, CreateTcpPlugin},
    {"pressure", true, nullptr, CreatePressurePlugin},
    {"process", true, ReadProcessOptions, CreateProcessPlugin},
    {"system", true, nullptr, CreateSystemPlugin},
    {"exec", true, ReadExecOptions, CreateExecPlugin},
};
}  // namespace

std::span<const PluginDescriptor> BuiltinPlugins() { return kBuiltins; }

const PluginDescriptor* FindBuiltinPlugin(std::string_view name) {
  for (const PluginDescriptor& d : kBuiltins) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

}  // namespace hw::collector
