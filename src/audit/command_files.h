// The files a command line names, for auditing what a command will load or run before it starts
// (`inloop deploy`, and `inloop run --audit`): each argument, and the value of each
// `--flag=VALUE`, that is an existing file or directory, resolved against `cwd`. Placeholders
// ({port}), URLs and the program itself when it is an interpreter or found on PATH are left out.
#pragma once

#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/status.h"

namespace inloop::audit {

std::vector<std::string> FilesNamedBy(const std::vector<std::string>& argv, const std::string& cwd);

// Audits the files the commands name (FilesNamedBy against the current directory, each file
// once) with the user's trusted globals; *out is empty when they name none.
Status AuditCommandFiles(const std::vector<std::vector<std::string>>& commands,
                         const std::vector<std::string>& allow, std::vector<FileVerdict>* out);

}  // namespace inloop::audit
