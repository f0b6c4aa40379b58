// The hostwatch command: one verb per job (the verbs: README.md). main.cc only calls RunCli.
#pragma once

namespace hw::cli {

// Returns the process exit code: 0 ok, 1 runtime failure, 2 usage error.
int RunCli(int argc, const char* const* argv);

}  // namespace hw::cli
