#include "collector/builtin_plugins.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "collector/plugin_folders.h"

namespace hw::collector {
namespace {

// A folder under plugins/ is compiled and tested on its own; without its row in builtin_plugins.cc
// it would never run. This catches the forgotten row.
TEST(BuiltinPluginsTest, EveryPluginFolderHasARow) {
  for (std::string_view folder : kPluginFolders) {
    EXPECT_NE(FindBuiltinPlugin(folder), nullptr)
        << "plugins/" << folder << "/ has no row in builtin_plugins.cc";
  }
}

TEST(BuiltinPluginsTest, EveryRowIsAPluginFolderAndNamedOnce) {
  std::set<std::string_view> seen;
  for (const PluginDescriptor& d : BuiltinPlugins()) {
    EXPECT_TRUE(std::ranges::find(kPluginFolders, d.name) != std::end(kPluginFolders))
        << d.name << " has no folder under plugins/";
    EXPECT_TRUE(seen.insert(d.name).second) << d.name << " has two rows";
    EXPECT_NE(d.create, nullptr) << d.name;
  }
}

}  // namespace
}  // namespace hw::collector
