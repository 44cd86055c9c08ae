// Validation of one pipeline output (docs/data.md, "Validation"): streams the file once through
// the scanner of its format and returns one CheckResult per check, plus the profile the next
// version's drift check compares against. Formats: JSONL (one object per line, simdjson
// On-Demand), CSV (a header line, then one record per line; quoted fields may hold commas but
// not line breaks), text (one record per line), tokens (a raw little-endian uint16 or uint32
// array, as nanoGPT's prepare.py writes train.bin).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "data/check_result.h"
#include "data/profile.h"
#include "data/step_spec.h"

namespace inloop::data {

// `path` is the file to read; results name spec.output. `previous` (may be null) is the profile
// of the output's previous version, for the drift checks. Returns NotFound/Io when the file
// cannot be read; everything about its content is in the results.
Status ValidateOutput(const std::string& path, const ValidationSpec& spec, const Profile* previous,
                      std::vector<CheckResult>* results, Profile* profile);

}  // namespace inloop::data
