#include "audit/finding.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/json_writer.h"

namespace inloop::audit {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "info";
}

bool ParseSeverity(std::string_view text, Severity* out) {
  for (Severity s : {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh,
                     Severity::kCritical}) {
    if (SeverityName(s) == text) {
      *out = s;
      return true;
    }
  }
  return false;
}

Finding LineFinding(const std::string& file, int line, std::string rule, Severity s,
                    std::string message, std::string fix) {
  Finding f;
  f.file = file;
  f.line = line;
  f.rule = std::move(rule);
  f.severity = s;
  f.message = std::move(message);
  f.fix = std::move(fix);
  return f;
}

Severity FileVerdict::worst() const {
  Severity w = Severity::kInfo;
  for (const Finding& f : findings) w = std::max(w, f.severity);
  return w;
}

namespace {

void WriteFinding(JsonWriter& w, const Finding& f) {
  w.BeginObject();
  w.Key("file").String(f.file);
  w.Key("rule").String(f.rule);
  w.Key("severity").String(SeverityName(f.severity));
  w.Key("message").String(f.message);
  w.Key("fix").String(f.fix);
  if (f.offset >= 0) w.Key("offset").Int(f.offset);
  if (f.line > 0) w.Key("line").Int(f.line);
  w.EndObject();
}

// SARIF levels: error / warning / note.
std::string_view SarifLevel(Severity s) {
  if (s >= Severity::kHigh) return "error";
  if (s >= Severity::kMedium) return "warning";
  return "note";
}

}  // namespace

remedy::AuditData TimelineDataOf(const Finding& f, std::string context, std::string policy,
                                 bool blocked) {
  return remedy::AuditData{std::move(context), f.file, f.rule, std::string(SeverityName(f.severity)),
                           f.message, f.fix, f.line, std::move(policy), blocked};
}

std::string FindingJson(const Finding& f) {
  JsonWriter w;
  WriteFinding(w, f);
  return w.Take();
}

std::string VerdictsJson(const std::vector<FileVerdict>& verdicts, Severity fail_on) {
  JsonWriter w;
  w.BeginObject();
  bool failed = false;
  size_t count = 0;
  w.Key("files").BeginArray();
  for (const FileVerdict& v : verdicts) {
    bool blocks = !v.findings.empty() && v.worst() >= fail_on;
    failed = failed || blocks;
    count += v.findings.size();
    w.BeginObject();
    w.Key("file").String(v.file);
    w.Key("format").String(v.format);
    w.Key("verdict").String(blocks ? "fail" : "pass");
    w.Key("worst").String(v.findings.empty() ? "none" : SeverityName(v.worst()));
    w.Key("pickles").Int(v.pickles);
    w.Key("globals").Int(v.globals);
    w.Key("findings").BeginArray();
    for (const Finding& f : v.findings) WriteFinding(w, f);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("findings").Int(static_cast<int64_t>(count));
  w.Key("fail_on").String(SeverityName(fail_on));
  w.Key("verdict").String(failed ? "fail" : "pass");
  w.EndObject();
  return w.Take();
}

std::string VerdictsSarif(const std::vector<FileVerdict>& verdicts) {
  std::map<std::string, const Finding*> rules;
  for (const FileVerdict& v : verdicts) {
    for (const Finding& f : v.findings) rules.emplace(f.rule, &f);
  }
  JsonWriter w;
  w.BeginObject();
  w.Key("$schema").String("https://json.schemastore.org/sarif-2.1.0.json");
  w.Key("version").String("2.1.0");
  w.Key("runs").BeginArray().BeginObject();
  w.Key("tool").BeginObject().Key("driver").BeginObject();
  w.Key("name").String("inloop audit");
  w.Key("rules").BeginArray();
  for (const auto& [id, f] : rules) {
    w.BeginObject().Key("id").String(id);
    w.Key("shortDescription").BeginObject().Key("text").String(id).EndObject();
    w.Key("help").BeginObject().Key("text").String(f->fix).EndObject();
    w.EndObject();
  }
  w.EndArray().EndObject().EndObject();
  w.Key("results").BeginArray();
  for (const FileVerdict& v : verdicts) {
    for (const Finding& f : v.findings) {
      w.BeginObject();
      w.Key("ruleId").String(f.rule);
      w.Key("level").String(SarifLevel(f.severity));
      w.Key("message").BeginObject().Key("text").String(f.message + " Fix: " + f.fix).EndObject();
      w.Key("properties").BeginObject().Key("severity").String(SeverityName(f.severity)).EndObject();
      w.Key("locations").BeginArray().BeginObject().Key("physicalLocation").BeginObject();
      std::string uri = f.file.substr(0, f.file.find('!'));
      w.Key("artifactLocation").BeginObject().Key("uri").String(uri).EndObject();
      w.Key("region").BeginObject();
      if (f.line > 0) {
        w.Key("startLine").Int(f.line);
      } else {
        w.Key("byteOffset").Int(std::max<int64_t>(f.offset, 0));
      }
      w.EndObject();
      w.EndObject().EndObject().EndArray();
      w.EndObject();
    }
  }
  w.EndArray();
  w.EndObject().EndArray();
  w.EndObject();
  return w.Take();
}

}  // namespace inloop::audit
