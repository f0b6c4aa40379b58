#include "collector/builtin_plugins.h"

// Every plugin's header: generated from the folders under plugins/ (collector/CMakeLists.txt).
#include "collector/plugin_folders.h"

namespace hw::collector {

namespace {
// One line per plugin, the only line a new plugin adds outside its folder:
// {name, enabled by default, options reader (or null), factory}.
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
