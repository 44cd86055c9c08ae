// The `inloop` command line: parses flags (CLI11) and calls into the modules. The only place,
// with http/, that prints or parses flags. Exit codes are listed in cli/exit_codes.h.
#pragma once

namespace inloop::cli {

int Main(int argc, char** argv);

}  // namespace inloop::cli
