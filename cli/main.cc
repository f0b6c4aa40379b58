// hostwatch: wiring only; the verbs live in the cli library.
#include "cli/cli.h"

int main(int argc, char** argv) { return hw::cli::RunCli(argc, argv); }
