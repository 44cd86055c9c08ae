// Training and serving code, and the configs beside it: what makes loading untrusted files or
// running the code dangerous. Owns inloop's own rules for Python sources (torch.load without
// weights_only, trust_remote_code=True, numpy allow_pickle, joblib/dill loads, downloads at run
// time; eval/exec, pickle loads and shell=True only when bandit is absent, since bandit covers
// them), secrets in code and configs (key patterns, and high-entropy values of key-like names),
// and running Debian's bandit over the Python files with its JSON output merged as findings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "audit/finding.h"
#include "common/status.h"

namespace inloop::audit {

// inloop's rules over one Python source. `bandit_covers` drops the rules bandit reports itself.
std::vector<Finding> ScanPythonSource(std::string_view text, const std::string& file,
                                      bool bandit_covers);

// Secrets in any text file (code or config): one finding per line at most, the value masked.
std::vector<Finding> ScanSecrets(std::string_view text, const std::string& file);

// Runs `bandit -f json -q` over the files (noise tests for training code skipped: assert, the
// random module, importing pickle/subprocess). Sets *ran = false (and returns OK) when bandit is
// not installed; an error when it ran but its output was not bandit's JSON.
Status RunBandit(const std::vector<std::string>& files, std::vector<Finding>* out, bool* ran);

// One line of Python without its comment (a '#' outside string quotes).
std::string_view StripPythonComment(std::string_view line);

// Whether a path names a Python source / a config file the secrets scan reads.
bool IsPythonSource(std::string_view path);
bool IsConfigFile(std::string_view path);

}  // namespace inloop::audit
