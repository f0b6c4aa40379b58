// exec: runs operator-supplied commands on their own intervals and publishes what they print (see
// exec_output.h for the formats), plus exec.ok{command=<name>} for every run.
//
// Each run is `/bin/sh -c <command>` started with posix_spawn in a new process group, stdin from
// /dev/null, signal mask and dispositions reset (the daemon blocks SIGTERM/SIGHUP and ignores
// SIGPIPE; a child must not inherit that), and no descriptor of ours beyond 0-2. At its timeout the
// whole group gets SIGTERM, then SIGKILL after kill_grace; the child is always reaped. Output past
// max_output_bytes closes the pipe (the command gets EPIPE) and fails the run.
//
// Threads: all of this happens on the plugin's own thread, which polls the pipes and a pidfd per
// child, so a hanging command never delays the scheduler or another command. A command still
// running at its next tick is not started twice: that tick is skipped and counted as an overrun.
//
// exec.ok is 1 when the command exited 0 within its timeout, within the output cap, and every line
// parsed; the lines that did parse are published either way.
#pragma once

#include <string>
#include <vector>

#include "collector/plugin.h"
#include "collector/plugins/exec/exec_output.h"
#include "common/config/units.h"

namespace hw::collector {

struct ExecCommand {
  std::string name;              // the command tag on exec.ok
  std::string command;           // run by /bin/sh -c
  config::Duration interval{0};  // 0: the plugin's interval
  config::Duration timeout{0};   // 0: the interval, at most 10s
  ExecFormat format = ExecFormat::kLines;
};

struct ExecOptions : PluginOptions {
  std::vector<ExecCommand> commands;
  uint64_t max_output_bytes = 64 * 1024;
  config::Duration kill_grace = std::chrono::seconds(2);  // SIGTERM -> SIGKILL
  void Describe(config::YamlWriter* w) const override;
};

std::shared_ptr<const PluginOptions> ReadExecOptions(config::Section& section);
Result<std::unique_ptr<Plugin>> CreateExecPlugin(const PluginSetup& setup);

}  // namespace hw::collector
