// Reads a pickle's opcode stream without unpickling it (no Python, no object is ever built) and
// reports every global it names, allowlist first (audit/allowlist.h). Protocols 0-5. The operand
// stack is simulated just enough to resolve STACK_GLOBAL's module and name when they are strings
// pushed directly or fetched from the memo; a global whose name cannot be resolved, an extension
// code (EXT1/2/4, which names a global through copyreg's registry), an unknown opcode or a
// damaged stream are findings too: the scan fails closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/allowlist.h"
#include "audit/finding.h"

namespace inloop::audit {

struct PickleGlobal {
  std::string module, name;
  int64_t offset = 0;     // of the opcode that named it
  GlobalClass cls = GlobalClass::kUnknown;
};

struct PickleScan {
  size_t end = 0;          // offset just past STOP (when `complete`)
  bool complete = false;   // a STOP was reached
  int protocol = 0;        // from PROTO, 0 when absent
  std::vector<PickleGlobal> globals;
  std::vector<Finding> findings;  // file left empty; the caller fills it
};

// Scans one pickle starting at data[0]. Never reads past data.size(); bounded memory (stack and
// memo sizes are capped; past the caps the scan stops with a finding).
PickleScan ScanPickle(std::string_view data, const Allowlist& allow);

// True when `data` plausibly starts a pickle (PROTO, or a protocol 0/1 opcode that a top-level
// object starts with).
bool LooksLikePickle(std::string_view data);

}  // namespace inloop::audit
