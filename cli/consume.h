#pragma once

namespace hw::cli {

// `hostwatch consume ...` (DESIGN.md §11); argv starts after the verb. Returns the exit code.
int RunConsume(int argc, const char* const* argv);

}  // namespace hw::cli
