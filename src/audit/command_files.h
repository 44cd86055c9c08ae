// The files a command line names, for auditing what a command will load or run before it starts
// (`inloop deploy`, and `inloop run --audit`): each argument, and the value of each
// `--flag=VALUE`, that is an existing file or directory, resolved against `cwd`. Placeholders
// ({port}), URLs and the program itself when it is an interpreter or found on PATH are left out.
#pragma once

#include <string>
#include <vector>

namespace inloop::audit {

std::vector<std::string> FilesNamedBy(const std::vector<std::string>& argv, const std::string& cwd);

}  // namespace inloop::audit
