// Configuration echoes and tab-separated tables in plain logs.
#include "importers/log_blocks.h"

#include "ingest/metric_sink.h"
#include "ingest/number_scan.h"
#include "ingest/text_metrics.h"

namespace inloop::importers {
namespace {

bool IsKeyStart(char c) { return ingest::IsAlpha(c) || c == '_'; }
bool IsKeyChar(char c) { return ingest::IsAlnum(c) || c == '_' || c == '.'; }

// A one-word key at the start of `s`: its length, 0 when none.
size_t KeyAt(std::string_view s) {
  if (s.empty() || !IsKeyStart(s[0])) return 0;
  size_t i = 1;
  while (i < s.size() && IsKeyChar(s[i])) ++i;
  return i;
}

std::string_view Unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         ingest::EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace

bool BareSetting(std::string_view line, std::string_view* key, std::string_view* value) {
  std::string_view s = ingest::TrimSpace(line);
  size_t k = KeyAt(s);
  if (k == 0) return false;
  size_t i = k;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size() || s[i] != ':') return false;
  std::string_view v = ingest::TrimSpace(s.substr(i + 1));
  if (v.empty()) return false;
  *key = s.substr(0, k);
  *value = v;
  return true;
}

bool ConfigEcho::Consume(std::string_view line, ImportedRun* run) {
  if (in_block_ && InBlock(line, run)) return true;
  in_block_ = false;
  std::string_view text = ingest::TrimSpace(ingest::StripLogPrefix(line));
  if (text.rfind("Initializing ", 0) != 0 || !EndsWithIgnoreCase(text, "from parameters:"))
    return false;
  in_block_ = true;
  path_.clear();
  prefix_ = EndsWithIgnoreCase(text, "net from parameters:") ? "net/" : "";
  return true;
}

bool ConfigEcho::InBlock(std::string_view line, ImportedRun* run) {
  std::string_view s = ingest::TrimSpace(line);
  if (s == "}") {
    if (!path_.empty()) path_.pop_back();
    return true;
  }
  size_t k = KeyAt(s);
  if (k > 0) {
    std::string_view rest = ingest::TrimSpace(s.substr(k));
    if (rest == "{") {  // "layer {"
      path_.emplace_back(s.substr(0, k));
      return true;
    }
    std::string_view key, value;
    if (BareSetting(s, &key, &value)) {
      value = Unquote(value);
      bool layer = !path_.empty() && (path_.back() == "layer" || path_.back() == "layers");
      if (key == "name" && layer) {
        path_.back().assign(value.data(), value.size());  // a layer is named by its name
        return true;
      }
      std::string full = prefix_;
      for (const std::string& p : path_) full += p + "/";
      full.append(key.data(), key.size());
      run->SetParam(std::move(full), std::string(value));
      return true;
    }
  }
  return false;  // the block ended: this line is an ordinary one
}

bool TabTable::Consume(std::string_view line, double wall_time, ImportedRun* run,
                       StepCounter* counter) {
  fields_.clear();
  if (line.find('\t') != std::string_view::npos) {
    size_t b = 0;
    for (size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == '\t') {
        fields_.push_back(ingest::TrimSpace(line.substr(b, i - b)));
        b = i + 1;
      }
    }
  }
  if (fields_.size() < 2) {
    header_.clear();
    return false;
  }
  // A row of the current table?
  if (!header_.empty() && fields_.size() == header_.size()) {
    std::vector<double>& values = values_;
    values.assign(fields_.size(), 0);
    bool row = true;
    for (size_t i = 0; row && i < fields_.size(); ++i)
      row = ingest::ParseNumericString(fields_[i], &values[i]);
    if (row) {
      bool has_step = false;
      int64_t step = 0;
      int rank = 0;
      double wall = wall_time;
      for (size_t i = 0; i < header_.size(); ++i) {
        int r = ingest::StepKeyRank(header_[i]);
        int64_t s = 0;
        if (r > rank && ingest::AsStep(values[i], &s)) {
          rank = r;
          step = s;
          has_step = true;
        }
        double t = 0;
        if (IsWallTimeKey(header_[i]) && WallTimeFromNumber(values[i], &t)) wall = t;
      }
      for (size_t i = 0; i < header_.size(); ++i) {
        if (ingest::StepKeyRank(header_[i]) > 0 || IsWallTimeKey(header_[i])) continue;
        run->Add(header_[i], counter->Assign(header_[i], has_step, step), wall, values[i]);
      }
      return true;
    }
  }
  // A header: every field a name (a word that is not a number).
  header_.clear();
  for (std::string_view f : fields_) {
    double v = 0;
    if (f.empty() || f.size() > ingest::kMaxKeyLength || !IsKeyStart(f[0]) ||
        ingest::ParseNumericString(f, &v)) {
      header_.clear();
      return false;
    }
    for (char c : f) {
      if (!(IsKeyChar(c) || c == '/' || c == '-' || c == '@')) {
        header_.clear();
        return false;
      }
    }
    header_.emplace_back(f);
  }
  return true;
}

}  // namespace inloop::importers
