// Which globals a pickle may name. Allowlist first: only the callables and classes that rebuild
// tensors, containers and numpy arrays (what torch.save / pickle of plain data produce) are
// allowed; every other name fails the scan. A separate denylist only raises the severity of names
// known to run code (os.system, builtins.eval, subprocess.*, ...), it never allows anything.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace inloop::audit {

enum class GlobalClass { kAllowed, kUnknown, kDangerous };

struct Allowlist {
  // Extra "module.name" entries the user trusts (`--allow`, `[audit] allow`); "module.*" allows
  // every name of a module.
  std::vector<std::string> extra;

  GlobalClass Classify(std::string_view module, std::string_view name) const;
};

}  // namespace inloop::audit
