// The plugins compiled into hostwatch-collector: an explicit list, because static self-registration
// is silently dropped by the linker from static libraries (an object file nothing references is
// never pulled in, so its registrar never runs).
#pragma once

#include <span>
#include <string_view>

#include "collector/plugin.h"

namespace hw::collector {

// In config order; each name is a key under collector.plugins.
std::span<const PluginDescriptor> BuiltinPlugins();
const PluginDescriptor* FindBuiltinPlugin(std::string_view name);

}  // namespace hw::collector
