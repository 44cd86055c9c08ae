// trainer_state.json: a splitter finds the top-level fields and the log_history entries without
// building a DOM (so a cut-off file still yields its complete entries); each entry goes through
// ingest::JsonMetrics, the parser `inloop run` uses for JSON lines.
#include "importers/trainer_state_reader.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>

#include "importers/text_input.h"
#include "ingest/json_metrics.h"
#include "ingest/metric_sink.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

// Finds where JSON values end, tolerating what simdjson rejects (NaN, Infinity). It does not
// validate; JsonMetrics and simdjson do that on the pieces.
class Splitter {
 public:
  explicit Splitter(std::string_view s) : s_(s) {}

  void Ws() {
    while (i_ < s_.size() && ingest::IsSpace(s_[i_])) ++i_;
  }
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return s_[i_]; }
  size_t pos() const { return i_; }
  void Advance() { ++i_; }

  // At a '"': moves past the closing quote. False when the text ends first.
  bool String() {
    for (++i_; i_ < s_.size(); ++i_) {
      if (s_[i_] == '\\') {
        ++i_;
      } else if (s_[i_] == '"') {
        ++i_;
        return true;
      }
    }
    return false;
  }

  // Moves past one value of any kind. False when the text ends first or no value starts here.
  bool Value() {
    if (AtEnd()) return false;
    char c = s_[i_];
    if (c == '"') return String();
    if (c == '{' || c == '[') {
      size_t depth = 0;
      while (i_ < s_.size()) {
        c = s_[i_];
        if (c == '"') {
          if (!String()) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') {
          if (--depth == 0) {
            ++i_;
            return true;
          }
        }
        ++i_;
      }
      return false;
    }
    size_t b = i_;
    while (i_ < s_.size() && !ingest::IsSpace(s_[i_]) && s_[i_] != ',' && s_[i_] != '}' &&
           s_[i_] != ']') {
      ++i_;
    }
    return i_ > b && i_ < s_.size();
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

class Reader {
 public:
  Reader(const std::string& path, std::string_view text, ImportBatch* out, ImportedRun* run)
      : path_(path), text_(text), lines_(text), split_(text), out_(out), run_(run) {}

  void Run() {
    split_.Ws();
    if (split_.AtEnd()) {
      Issue(0, "empty file; nothing imported");
      return;
    }
    if (split_.Peek() != '{') {
      Issue(split_.pos(), "not a JSON object (trainer_state.json starts with '{'); not imported");
      return;
    }
    split_.Advance();
    for (;;) {
      split_.Ws();
      if (split_.AtEnd()) return Truncated();
      char c = split_.Peek();
      if (c == '}') return;
      if (c == ',') {
        split_.Advance();
        continue;
      }
      size_t key_at = split_.pos();
      if (c != '"' || !split_.String()) {
        if (c != '"') return Issue(key_at, "expected a quoted key; rest of the file not read");
        return Truncated();
      }
      std::string key;
      if (!DecodeString(text_.substr(key_at, split_.pos() - key_at), &key)) {
        return Issue(key_at, "a key is not a valid JSON string; rest of the file not read");
      }
      split_.Ws();
      if (split_.AtEnd()) return Truncated();
      if (split_.Peek() != ':') return Issue(split_.pos(), "expected ':'; rest of the file not read");
      split_.Advance();
      split_.Ws();
      if (split_.AtEnd()) return Truncated();
      if (key == "log_history" && split_.Peek() == '[') {
        if (!LogHistory()) return;
        continue;
      }
      size_t at = split_.pos();
      if (!split_.Value()) {
        if (split_.AtEnd()) return Truncated();
        return Issue(at, fmt::format("field '{}' has no value; rest of the file not read",
                                     Excerpt(key)));
      }
      Field(key, text_.substr(at, split_.pos() - at), at);
    }
  }

 private:
  void Issue(size_t offset, std::string message) {
    out_->Issue(path_, -1, offset == 0 && text_.empty() ? 0 : lines_.LineAt(offset),
                std::move(message));
  }
  void Truncated() {
    Issue(text_.size(), "the file ends inside the JSON document (truncated?); what came before "
                        "was kept");
    ++out_->skipped["trainer_state:truncated"];
  }

  // Decodes a JSON string literal (quotes included) with simdjson.
  bool DecodeString(std::string_view literal, std::string* out) {
    simdjson::padded_string padded(literal);
    simdjson::dom::element e;
    std::string_view s;
    if (dom_.parse(padded).get(e) != simdjson::SUCCESS || e.get_string().get(s) != simdjson::SUCCESS)
      return false;
    out->assign(s.data(), s.size());
    return true;
  }

  // A scalar as param text: strings decoded, numbers and booleans as written, null skipped.
  bool ScalarText(std::string_view raw, std::string* out) {
    if (raw == "null") return false;
    if (!raw.empty() && raw[0] == '"') return DecodeString(raw, out);
    *out = std::string(raw);
    return true;
  }

  void Field(const std::string& key, std::string_view raw, size_t at) {
    if (raw.empty()) return;
    if (raw[0] == '{' || raw[0] == '[') {
      if (key == "trial_params" && raw[0] == '{') return TrialParams(raw, at);
      ++out_->skipped[raw[0] == '{' ? "trainer_state:object field" : "trainer_state:array field"];
      return;
    }
    std::string value;
    if (raw == "null") return;
    if (!ScalarText(raw, &value)) {
      Issue(at, fmt::format("field '{}' is not a valid JSON value; skipped", Excerpt(key)));
      return;
    }
    run_->SetParam(key, std::move(value));
  }

  void TrialParams(std::string_view raw, size_t at) {
    Splitter s(raw);
    s.Advance();
    for (;;) {
      s.Ws();
      if (s.AtEnd() || s.Peek() == '}') return;
      if (s.Peek() == ',') {
        s.Advance();
        continue;
      }
      size_t k = s.pos();
      std::string name, value;
      bool ok = s.Peek() == '"' && s.String() && DecodeString(raw.substr(k, s.pos() - k), &name);
      if (ok) {
        s.Ws();
        ok = !s.AtEnd() && s.Peek() == ':';
      }
      if (ok) {
        s.Advance();
        s.Ws();
        size_t v = s.pos();
        ok = s.Value();
        if (ok) {
          std::string_view vraw = raw.substr(v, s.pos() - v);
          if (vraw[0] == '{' || vraw[0] == '[') {
            run_->SetParam("trial_params/" + name, std::string(vraw));
          } else if (ScalarText(vraw, &value)) {
            run_->SetParam("trial_params/" + name, std::move(value));
          }
        }
      }
      if (!ok) {
        Issue(at, "trial_params is not a valid JSON object; the rest of it skipped");
        return;
      }
    }
  }

  // At the '[' of log_history. False when the file ends inside it.
  bool LogHistory() {
    split_.Advance();
    ingest::ParsedLine parsed;
    ingest::MetricSink sink(&parsed);
    for (;;) {
      split_.Ws();
      if (split_.AtEnd()) {
        Truncated();
        return false;
      }
      char c = split_.Peek();
      if (c == ']') {
        split_.Advance();
        return true;
      }
      if (c == ',') {
        split_.Advance();
        continue;
      }
      size_t at = split_.pos();
      if (!split_.Value()) {
        if (split_.AtEnd()) {
          Issue(at, "log_history entry is cut off (file truncated?); skipped with the rest of "
                    "the file");
          ++out_->skipped["trainer_state:truncated"];
          return false;
        }
        Issue(at, "log_history holds something that is not a value; rest of the file not read");
        return false;
      }
      ++out_->records;
      std::string_view entry = text_.substr(at, split_.pos() - at);
      if (c != '{') {
        Issue(at, "log_history entry is not an object; skipped");
        ++out_->skipped["trainer_state:bad entry"];
        continue;
      }
      sink.Reset();
      if (!json_.Parse(entry, &sink)) {
        Issue(at, "log_history entry is not valid JSON; skipped");
        ++out_->skipped["trainer_state:bad entry"];
        continue;
      }
      if (!parsed.has_step) {
        Issue(at, "log_history entry has no whole 'step'; skipped");
        ++out_->skipped["trainer_state:entry without step"];
        continue;
      }
      for (const ingest::Metric& m : parsed.metrics) run_->Add(m.key, parsed.step, 0, m.value);
    }
  }

  const std::string& path_;
  std::string_view text_;
  LineCounter lines_;
  Splitter split_;
  ImportBatch* out_;
  ImportedRun* run_;
  ingest::JsonMetrics json_;
  simdjson::dom::parser dom_;
};

bool IsCheckpointDir(const std::string& name) {
  if (name == "last-checkpoint") return true;  // Trainer's hub_strategy="checkpoint" copy
  constexpr std::string_view kPrefix = "checkpoint-";
  if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  for (size_t i = kPrefix.size(); i < name.size(); ++i)
    if (!ingest::IsDigit(name[i])) return false;
  return true;
}

}  // namespace

Status ReadTrainerState(const std::string& path, ImportBatch* out) {
  std::string text;
  INLOOP_RETURN_IF_ERROR(ReadWholeFile(path, &text));
  out->bytes += static_cast<int64_t>(text.size());
  ImportedRun run;
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(path, ec).lexically_normal().parent_path();
  run.name = dir.filename().string();
  if (IsCheckpointDir(run.name)) run.name = dir.parent_path().filename().string();
  if (run.name.empty()) run.name = "trainer_state";
  run.format = "trainer_state";
  run.source = path;
  std::string_view body = StripBom(text);
  Reader(path, body, out, &run).Run();
  if (run.points() > 0 || !run.params.empty()) out->runs.push_back(std::move(run));
  return Status::OK();
}

}  // namespace inloop::importers
