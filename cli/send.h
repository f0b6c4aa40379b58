#pragma once

namespace hw::cli {

// `hostwatch send ...` (DESIGN.md §11); argv starts after the verb. Returns the exit code.
int RunSend(int argc, const char* const* argv);

}  // namespace hw::cli
