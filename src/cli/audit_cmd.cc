// `inloop audit PATH...`: the text, JSON and SARIF faces of audit/audit.h.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/color.h>
#include <fmt/format.h>

#include "audit/audit.h"
#include "common/display_text.h"
#include "audit/command_files.h"
#include "audit/serving_surface.h"
#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/file_io.h"

namespace inloop::cli {
namespace {

void PrintText(const std::vector<audit::FileVerdict>& verdicts, audit::Severity fail_on,
               bool quiet) {
  bool color = isatty(1) && !getenv("NO_COLOR");
  size_t failed = 0, findings = 0;
  for (const audit::FileVerdict& v : verdicts) {
    bool blocks = !v.findings.empty() && v.worst() >= fail_on;
    failed += blocks ? 1 : 0;
    findings += v.findings.size();
    if (quiet && v.findings.empty()) continue;
    bool text = v.format == "python" || v.format == "config";
    std::string head = text ? fmt::format("{}: {}", v.file, v.format)
                            : fmt::format("{}: {} ({} pickle{}, {} global{})", v.file, v.format,
                                          v.pickles, v.pickles == 1 ? "" : "s", v.globals,
                                          v.globals == 1 ? "" : "s");
    std::string word = blocks ? "FAIL" : (v.findings.empty() ? "ok" : "pass");
    if (color) {
      word = fmt::format(fmt::fg(blocks ? fmt::color::red : fmt::color::green), "{}", word);
    }
    fmt::print("{} {}\n", word, head);
    for (const audit::Finding& f : v.findings) {
      std::string where = f.file == v.file ? "" : fmt::format(" in {}", f.file.substr(f.file.find('!') + 1));
      std::string at = f.line > 0 ? fmt::format(" line {}", f.line)
                       : f.offset >= 0 ? fmt::format(" at byte {}", f.offset) : "";
      fmt::print("  {} {}{}{}: {}\n    fix: {}\n", audit::SeverityName(f.severity), f.rule, where, at,
                 f.message, f.fix);
    }
  }
  fmt::print("{} file{} scanned, {} finding{}, {} failing at --fail-on {}\n", verdicts.size(),
             verdicts.size() == 1 ? "" : "s", findings, findings == 1 ? "" : "s", failed,
             audit::SeverityName(fail_on));
}

}  // namespace

int CmdAudit(const AuditArgs& a) {
  audit::Severity fail_on;
  if (!audit::ParseSeverity(a.fail_on, &fail_on)) {
    fmt::print(stderr, "inloop: error: --fail-on {} is not one of info, low, medium, high, "
               "critical\n", a.fail_on);
    return kExitUsage;
  }
  audit::AuditOptions o;
  for (const std::string& e : a.allow) {
    if (e.find('.') == std::string::npos) {
      fmt::print(stderr, "inloop: error: --allow {} must be MODULE.NAME or MODULE.*\n", e);
      return kExitUsage;
    }
  }
  o.allow.extra = a.allow;
  std::vector<audit::FileVerdict> verdicts;
  Status s = audit::AuditPaths(a.paths, o, &verdicts);
  if (!s.ok()) {
    fmt::print(stderr, "inloop: error: {}\n", s.message());
    return ExitCodeFor(s);
  }
  if (!a.sarif.empty()) {
    std::string sarif = audit::VerdictsSarif(verdicts) + "\n";
    if (a.sarif == "-") {
      fmt::print("{}", sarif);
    } else if (Status w = WriteFileAtomically(a.sarif, sarif); !w.ok()) {
      fmt::print(stderr, "inloop: error: {}\n", w.message());
      return ExitCodeFor(w);
    }
  }
  std::vector<audit::ServingSurface> surfaces;
  if (a.surface) {
    std::vector<std::string> files;
    for (const audit::FileVerdict& v : verdicts) files.push_back(v.file);
    surfaces = audit::SurfacesOf(files);
  }
  if (a.json) {
    std::string out = audit::VerdictsJson(verdicts, fail_on);
    if (a.surface && !out.empty() && out.back() == '}') {
      out.pop_back();
      out += ",\"surface\":[";
      for (size_t i = 0; i < surfaces.size(); ++i) {
        out += (i ? "," : "") + audit::ServingSurfaceJson(surfaces[i]);
      }
      out += "]}";
    }
    fmt::print("{}\n", out);
  } else if (a.sarif != "-") {
    PrintText(verdicts, fail_on, a.quiet);
    for (const audit::ServingSurface& s : surfaces) {
      fmt::print("surface {}: {}\n", s.file, audit::ServingSurfaceText(s));
    }
  }
  for (const audit::FileVerdict& v : verdicts) {
    if (!v.findings.empty() && v.worst() >= fail_on) return kExitAuditFindings;
  }
  return kExitOk;
}

int AuditBeforeRun(const std::vector<std::string>& command, const std::string& policy,
                   const std::vector<std::string>& allow,
                   std::vector<remedy::AuditData>* record) {
  if (policy == "off") return kExitOk;
  std::vector<audit::FileVerdict> verdicts;
  if (Status s = audit::AuditCommandFiles({command}, allow, &verdicts); !s.ok()) {
    fmt::print(stderr, "inloop: error: audit: {}\n", s.message());
    return ExitCodeFor(s);
  }
  size_t failing = 0;
  for (const audit::FileVerdict& v : verdicts) {
    for (const audit::Finding& f : v.findings) {
      if (record && f.severity >= audit::Severity::kMedium) {
        record->push_back(audit::TimelineDataOf(f, "command", policy, false));
      }
      if (f.severity < audit::Severity::kHigh) continue;
      ++failing;
      std::string where = FileAndLine(f.file, f.line);
      fmt::print(stderr, "inloop: audit: {} {}: {} ({})\n", audit::SeverityName(f.severity), where,
                 f.message, f.rule);
    }
  }
  if (failing == 0) return kExitOk;
  if (policy == "warn") {
    fmt::print(stderr, "inloop: audit: {} finding{} ([audit] policy warn: running anyway)\n", failing,
               failing == 1 ? "" : "s");
    return kExitOk;
  }
  if (policy == "ask" && isatty(0) && isatty(2)) {
    fmt::print(stderr, "inloop: audit: {} finding{}; run anyway? [y/N] ", failing, failing == 1 ? "" : "s");
    std::string answer;
    if (std::getline(std::cin, answer) && (answer == "y" || answer == "Y" || answer == "yes")) {
      return kExitOk;
    }
  }
  fmt::print(stderr, "inloop: error: run refused: {} audit finding{} in the files the command names "
             "(`inloop audit FILE` shows each with its fix; [audit] policy = \"warn\" runs anyway)\n",
             failing, failing == 1 ? "" : "s");
  return kExitAuditFindings;
}

}  // namespace inloop::cli
