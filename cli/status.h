#pragma once

namespace hw::cli {

// `hostwatch status ...` (DESIGN.md §11); argv starts after the verb. Returns the exit code.
int RunStatus(int argc, const char* const* argv);

}  // namespace hw::cli
