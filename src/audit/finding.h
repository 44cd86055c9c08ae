// One audit finding and its one JSON form, shared by `inloop audit`, SARIF output and (later) the
// run timeline. Owns: Severity (ordered), Finding, FileVerdict and their JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "remedy/timeline.h"

namespace inloop::audit {

// Ordered: a finding at or above the --fail-on level fails the audit.
enum class Severity { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };

std::string_view SeverityName(Severity s);                 // "info" ... "critical"
bool ParseSeverity(std::string_view text, Severity* out);  // the names above

struct Finding {
  std::string file;     // the path as given (an archive member as "ARCHIVE!member")
  std::string rule;     // stable id, e.g. "pickle.global.dangerous"
  Severity severity = Severity::kInfo;
  std::string message;  // what was found, one line
  std::string fix;      // what to do about it, one line
  int64_t offset = -1;  // byte offset in the file or member (-1: none)
  int line = 0;         // 1-based line for source files (0: none)
};

// What one scanned file came to.
struct FileVerdict {
  std::string file;
  std::string format;   // "pickle", "torch-zip", "torch-legacy", "safetensors", "zip", ...
  std::vector<Finding> findings;
  int pickles = 0;      // pickle streams scanned
  int globals = 0;      // global references seen (allowed or not)
  Severity worst() const;  // kInfo when there are no findings
};

// A finding at a line of a text file (source code, config, a diff's new side).
Finding LineFinding(const std::string& file, int line, std::string rule, Severity s,
                    std::string message, std::string fix);

// The finding as a run's `audit_finding` event data: `context` ("command" or "checkpoint"), the
// [audit] policy in force and whether inloop refused what it names.
remedy::AuditData TimelineDataOf(const Finding& f, std::string context, std::string policy,
                                 bool blocked);

std::string FindingJson(const Finding& f);
std::string VerdictsJson(const std::vector<FileVerdict>& verdicts, Severity fail_on);
// SARIF 2.1.0 (one run, tool "inloop audit", one rule per rule id seen).
std::string VerdictsSarif(const std::vector<FileVerdict>& verdicts);

}  // namespace inloop::audit
