#pragma once

namespace hw::cli {

// `hostwatch test-logrules --config logwatch.yaml FILE...` (DESIGN.md §11); argv starts after the
// verb. Returns the exit code.
int RunTestLogrules(int argc, const char* const* argv);

}  // namespace hw::cli
