// process: named groups of processes (matchers), each reported as proc.* with tag
// process=<matcher name>. A matcher selects by exactly one of
//   comm     the kernel's process name (/proc/<pid>/comm, at most 15 bytes: longer names compare
//            by their first 15),
//   cmdline  an RE2 regex searched (not anchored) in the command line, arguments joined by spaces,
//   pidfile  a file holding the pid (daemons that write one).
// One scan of <proc_root> per interval serves every matcher. proc.up is 1 when a live process
// matched and 0 otherwise (with proc.count 0 and nothing else but proc.zombies), so "the game
// server died" is a value an alert can test, not a gap. A zombie (exited, not yet reaped: state Z
// or X) is not live: it counts only in proc.zombies, so a server whose supervisor hangs before
// reaping it is down. proc.cpu_percent is the matched processes' CPU time over the interval
// (100 = one CPU), from the second scan on; proc.rss_bytes is from /proc/<pid>/statm (exact, as
// ps shows it); proc.uptime_s is the age of the oldest match;
// proc.fds is omitted when another user's /proc/<pid>/fd cannot be read.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "collector/plugin.h"

namespace re2 {
class RE2;
}

namespace hw::collector {

struct ProcessMatcher {
  std::string name;
  std::string comm;
  std::string cmdline;  // the pattern as written, for --check-config
  std::shared_ptr<const re2::RE2> cmdline_re;
  std::string pidfile;
};

struct ProcessOptions : PluginOptions {
  std::vector<ProcessMatcher> matchers;
  void Describe(config::YamlWriter* w) const override;
};

std::shared_ptr<const PluginOptions> ReadProcessOptions(config::Section& section);
Result<std::unique_ptr<Plugin>> CreateProcessPlugin(const PluginSetup& setup);

}  // namespace hw::collector
