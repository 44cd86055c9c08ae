// Checks a safetensors file's header without loading tensors: the header length is sane, the
// header is a JSON object, every tensor's dtype is known, its byte range lies inside the data
// region and matches dtype x shape, ranges do not overlap, and no bytes of the data region are
// left unreferenced (room for a hidden payload).
#pragma once

#include <string_view>
#include <vector>

#include "audit/finding.h"

namespace inloop::audit {

// Appends findings (file left empty) for `data`, the whole file. Returns the tensor count.
int CheckSafetensors(std::string_view data, std::vector<Finding>* findings);

// True when `data` starts like a safetensors file (length prefix then '{').
bool LooksLikeSafetensors(std::string_view data);

}  // namespace inloop::audit
