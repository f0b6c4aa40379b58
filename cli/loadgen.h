#pragma once

namespace hw::cli {

// `hostwatch loadgen ...` (DESIGN.md §11); argv starts after the verb. Returns the exit code.
int RunLoadgen(int argc, const char* const* argv);

}  // namespace hw::cli
