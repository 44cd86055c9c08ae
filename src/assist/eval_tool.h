// The evaldiff tool: two model versions' per-example eval files compared (compare/eval_diff.h),
// for tool users that work inside a checkout (the MCP server). Paths are confined to `root`:
// a path that resolves outside it (.., symlinks, absolute elsewhere) is refused, never opened.
// Kept out of RegisterInloopTools so `inloop ask` keeps its own tool set.
#pragma once

#include <string>

#include "assist/tools.h"

namespace inloop::assist {

void RegisterEvalDiffTool(ToolRegistry* r, const std::string& root);

// The canonical form of `path` (relative to root, or absolute) when it lies inside root;
// Invalid otherwise, NotFound when it does not exist.
Status ConfinedPath(const std::string& root, const std::string& path, std::string* out);

}  // namespace inloop::assist
