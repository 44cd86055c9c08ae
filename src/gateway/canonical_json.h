// Canonical JSON text for cache keys: the same value always gives the same bytes (object keys
// sorted, no whitespace, numbers in their shortest round-trip form). Pure functions; never
// evaluates or executes anything it parses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace inloop::gateway {

// Writes the canonical form of the JSON document `in` to *out. Invalid when it is not JSON.
Status CanonicalJson(std::string_view in, std::string* out);

// The top-level number field `key` of a JSON object document; nullopt when the document is not
// an object, the field is missing or it is not a number.
std::optional<double> TopLevelNumber(std::string_view json, std::string_view key);

}  // namespace inloop::gateway
