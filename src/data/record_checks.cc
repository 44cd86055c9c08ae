// The checks' bookkeeping and their verdicts.
#include "data/record_checks.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "data/hash64.h"

namespace inloop::data {
namespace {

constexpr size_t kExampleLines = 5;

std::string Lines(const std::vector<int64_t>& lines) {
  std::string s;
  for (int64_t l : lines) s += fmt::format("{}{}", s.empty() ? "" : ", ", l);
  return s;
}

bool TypeMatches(const std::string& want, ValueKind k) {
  if (want.empty() || want == "any") return true;
  switch (k) {
    case ValueKind::kString: return want == "string";
    case ValueKind::kInteger: return want == "integer" || want == "number";
    case ValueKind::kNumber: return want == "number";
    case ValueKind::kBool: return want == "bool";
    case ValueKind::kArray: return want == "array";
    case ValueKind::kObject: return want == "object";
    case ValueKind::kNull: return false;
  }
  return false;
}

double Rate(int64_t n, int64_t rows) { return rows > 0 ? double(n) / double(rows) : 0; }

}  // namespace

RecordChecker::RecordChecker(const ValidationSpec& spec) : spec_(spec) {
  for (auto& [name, type] : spec.schema) fields_[Add(name)].type = type;
  std::string text;
  for (const CheckSpec* c : {&spec.length, &spec.near_duplicates, &spec.duplicates}) {
    if (c->enabled && !c->field.empty() && text.empty()) text = c->field;
  }
  if (!text.empty() && spec.format != "text") text_field_ = Add(text);
  dup_on_text_ = spec.duplicates.enabled && !spec.duplicates.field.empty();
  track_length_ = spec.length.enabled;
  if (spec.drift.enabled) {
    for (auto& f : spec.drift.numeric) {
      if (f == "length") {  // the text field's length, from lengths_
        track_length_ = true;
        continue;
      }
      fields_[Add(f)].numeric = &profile_.numeric[f];
    }
    for (auto& f : spec.drift.categorical) fields_[Add(f)].categories = &profile_.categorical[f];
  }
}

int RecordChecker::Add(const std::string& name) {
  int i = FieldIndex(name);
  if (i >= 0) return i;
  fields_.push_back(Field{});
  fields_.back().name = name;
  return static_cast<int>(fields_.size()) - 1;
}

void RecordChecker::BeginRecord(int64_t line) {
  line_ = line;
  have_text_ = false;
  for (auto& f : fields_) f.seen = false;
}

void RecordChecker::OnField(int index, ValueKind kind, std::string_view text, double number,
                            bool empty) {
  Field& f = fields_[index];
  if (f.seen) return;  // a repeated key: the first one counts
  f.seen = true;
  auto bad = [&] {
    if (f.bad_lines.size() < kExampleLines) f.bad_lines.push_back(line_);
  };
  if (kind == ValueKind::kNull) {
    ++f.nulls;
    if (!f.type.empty()) bad();
    return;
  }
  if (!TypeMatches(f.type, kind)) {
    ++f.wrong_type;
    bad();
  }
  if (empty) ++f.empty;
  if (index == text_field_ && kind == ValueKind::kString) {
    have_text_ = true;
    text_ = text;
  }
  if (f.numeric && (kind == ValueKind::kNumber || kind == ValueKind::kInteger)) f.numeric->Add(number);
  if (f.categories && kind != ValueKind::kArray && kind != ValueKind::kObject) {
    auto it = f.categories->find(text);
    if (it != f.categories->end()) {
      ++it->second;
    } else if (f.categories->size() < kMaxCategories) {
      f.categories->emplace(std::string(text), 1);
    } else {
      ++(*f.categories)["(other)"];
    }
  }
}

void RecordChecker::TextValue(std::string_view text) {
  int64_t len = static_cast<int64_t>(text.size());
  if (track_length_) {
    length_sum_ += len;
    length_min_ = std::min(length_min_, len);
    length_max_ = std::max(length_max_, len);
    lengths_.Add(static_cast<double>(len));
    if ((spec_.length.min && len < *spec_.length.min) || (spec_.length.max && len > *spec_.length.max)) {
      ++length_out_of_bounds_;
      if (length_bad_lines_.size() < kExampleLines) length_bad_lines_.push_back(line_);
    }
  }
  if (spec_.near_duplicates.enabled) {
    near_.Add(text);
    near_lines_.push_back(line_);
  }
}

void RecordChecker::EndRecord(std::string_view raw, std::string_view text) {
  ++rows_;
  for (auto& f : fields_) {
    if (!f.seen) {
      ++f.missing;
      if (!f.type.empty() && f.bad_lines.size() < kExampleLines) f.bad_lines.push_back(line_);
    }
  }
  if (text_field_ < 0) {
    have_text_ = true;
    text_ = text;
    if (text.empty()) ++empty_records_;
  }
  if (have_text_) TextValue(text_);
  if (spec_.duplicates.enabled) {
    std::string_view key = dup_on_text_ ? (have_text_ ? text_ : std::string_view()) : raw;
    if (!dup_on_text_ || have_text_) hashes_.emplace_back(Hash64(key), line_);
  }
}

void RecordChecker::OnParseError(int64_t line) {
  ++parse_errors_;
  if (parse_error_lines_.size() < kExampleLines) parse_error_lines_.push_back(line);
}

CheckResult RecordChecker::Base(const std::string& output, const char* check,
                                const CheckSpec& c) const {
  CheckResult r;
  r.output = output;
  r.check = check;
  r.severity = c.severity;
  return r;
}

void RecordChecker::FinishParse(const std::string& output, std::vector<CheckResult>* out) {
  {
    CheckResult r;
    r.output = output;
    r.check = "parse";
    r.severity = spec_.severity;
    r.value = double(parse_errors_);
    r.passed = parse_errors_ == 0;
    r.has_limit = true;
    r.message = r.passed ? fmt::format("{} records read", rows_)
                         : fmt::format("{} lines are not valid {} records (lines {})",
                                       parse_errors_, spec_.format, Lines(parse_error_lines_));
    r.numbers = {{"rows", double(rows_)}};
    out->push_back(std::move(r));
  }
}

void RecordChecker::FinishSchema(const std::string& output, std::vector<CheckResult>* out) {
  for (auto& f : fields_) {
    if (f.type.empty()) continue;
    CheckResult r;
    r.output = output;
    r.check = "schema";
    r.field = f.name;
    r.severity = spec_.severity;
    int64_t bad = f.missing + f.wrong_type + (spec_.nulls.enabled ? 0 : f.nulls);
    r.value = double(bad);
    r.has_limit = true;
    r.passed = bad == 0;
    r.numbers = {{"missing", double(f.missing)}, {"wrong_type", double(f.wrong_type)},
                 {"null", double(f.nulls)}};
    r.message = r.passed ? fmt::format("{}: {} in every record", f.name, f.type)
                         : fmt::format("{}: {} records lack it or hold another type than {} "
                                       "(lines {})", f.name, bad, f.type, Lines(f.bad_lines));
    for (int64_t l : f.bad_lines) r.examples.push_back(fmt::format("line {}", l));
    out->push_back(std::move(r));
  }
}

void RecordChecker::FinishRows(const std::string& output, std::vector<CheckResult>* out) {
  if (spec_.rows.enabled) {
    CheckResult r = Base(output, "rows", spec_.rows);
    r.value = double(rows_);
    r.passed = !(spec_.rows.min && rows_ < *spec_.rows.min) && !(spec_.rows.max && rows_ > *spec_.rows.max);
    r.message = fmt::format("{} rows{}", rows_,
                            r.passed ? "" : fmt::format(" (expected {} to {})",
                                                        spec_.rows.min ? fmt::format("{}", *spec_.rows.min) : "0",
                                                        spec_.rows.max ? fmt::format("{}", *spec_.rows.max) : "any"));
    out->push_back(std::move(r));
  }
}

void RecordChecker::FinishRates(const std::string& output, std::vector<CheckResult>* out) {
  struct {
    const char* name;
    const CheckSpec& spec;
    int64_t Field::*count;
  } rates[] = {{"nulls", spec_.nulls, &Field::nulls}, {"empty", spec_.empty, &Field::empty}};
  for (auto& rc : rates) {
    if (!rc.spec.enabled) continue;
    for (auto& f : fields_) {
      bool is_text = (&f - &fields_[0]) == text_field_;
      if (f.type.empty() && !is_text) continue;
      // Numbers and booleans cannot be empty.
      if (rc.count == &Field::empty && !is_text && f.type != "string" && f.type != "array" &&
          f.type != "object" && f.type != "any") {
        continue;
      }
      CheckResult r = Base(output, rc.name, rc.spec);
      r.field = f.name;
      int64_t n = f.*rc.count + (rc.count == &Field::nulls ? f.missing : 0);
      r.value = Rate(n, rows_);
      r.has_limit = true;
      r.limit = rc.spec.max_rate.value_or(0);
      r.passed = r.value <= r.limit;
      r.numbers = {{"count", double(n)}, {"rows", double(rows_)}};
      r.message = fmt::format("{}: {} of {} records {} ({:.2f}%)", f.name, n, rows_,
                              rc.count == &Field::nulls ? "null or missing" : "empty", 100 * r.value);
      out->push_back(std::move(r));
    }
  }
  if (spec_.format != "jsonl" && spec_.format != "csv" && spec_.empty.enabled) {
    CheckResult r = Base(output, "empty", spec_.empty);  // text: an empty line is an empty record
    r.value = Rate(empty_records_, rows_);
    r.has_limit = true;
    r.limit = spec_.empty.max_rate.value_or(0);
    r.passed = r.value <= r.limit;
    r.numbers = {{"count", double(empty_records_)}, {"rows", double(rows_)}};
    r.message = fmt::format("{} of {} lines empty ({:.2f}%)", empty_records_, rows_, 100 * r.value);
    out->push_back(std::move(r));
  }
}

void RecordChecker::FinishDuplicates(const std::string& output, std::vector<CheckResult>* out) {
  if (spec_.duplicates.enabled) {
    std::sort(hashes_.begin(), hashes_.end());
    int64_t dups = 0, groups = 0;
    CheckResult r = Base(output, "duplicates", spec_.duplicates);
    r.field = spec_.duplicates.field;
    for (size_t i = 0; i < hashes_.size();) {
      size_t j = i + 1;
      while (j < hashes_.size() && hashes_[j].first == hashes_[i].first) ++j;
      if (j - i > 1) {
        dups += int64_t(j - i - 1);
        ++groups;
        if (r.examples.size() < kExampleLines) {
          std::vector<int64_t> ls;
          for (size_t k = i; k < j && ls.size() < 10; ++k) ls.push_back(hashes_[k].second);
          r.examples.push_back("lines " + Lines(ls));
        }
      }
      i = j;
    }
    r.value = Rate(dups, rows_);
    r.has_limit = true;
    r.limit = spec_.duplicates.max_rate.value_or(0);
    r.passed = r.value <= r.limit;
    r.numbers = {{"duplicate_records", double(dups)}, {"groups", double(groups)}};
    r.message = fmt::format("{} exact duplicate records in {} groups ({:.2f}%)", dups, groups, 100 * r.value);
    out->push_back(std::move(r));
    std::vector<std::pair<uint64_t, int64_t>>().swap(hashes_);
  }
}

void RecordChecker::FinishNearDuplicates(const std::string& output, std::vector<CheckResult>* out) {
  if (spec_.near_duplicates.enabled) {
    NearDuplicateGroups g = near_.Find(spec_.near_duplicates.threshold);
    CheckResult r = Base(output, "near_duplicates", spec_.near_duplicates);
    r.field = spec_.near_duplicates.field;
    r.value = Rate(g.duplicate_records, g.records);
    r.has_limit = true;
    r.limit = spec_.near_duplicates.max_rate.value_or(0);
    r.passed = r.value <= r.limit;
    r.numbers = {{"duplicate_records", double(g.duplicate_records)}, {"groups", double(g.groups)},
                 {"threshold", spec_.near_duplicates.threshold}};
    for (auto& ex : g.examples) {
      std::vector<int64_t> ls;
      for (int64_t rec : ex) ls.push_back(near_lines_[rec]);
      r.examples.push_back("lines " + Lines(ls));
    }
    r.message = fmt::format("{} records are near duplicates (Jaccard >= {}) of another, in {} "
                            "groups ({:.2f}%)", g.duplicate_records,
                            spec_.near_duplicates.threshold, g.groups, 100 * r.value);
    out->push_back(std::move(r));
  }
}

void RecordChecker::FinishLength(const std::string& output, std::vector<CheckResult>* out) {
  if (spec_.length.enabled) {
    CheckResult r = Base(output, "length", spec_.length);
    r.field = spec_.length.field;
    r.value = Rate(length_out_of_bounds_, rows_);
    r.has_limit = true;
    r.limit = spec_.length.max_rate.value_or(0);
    r.passed = r.value <= r.limit;
    std::vector<double> sample = lengths_.values();
    std::sort(sample.begin(), sample.end());
    auto q = [&](double p) {
      return sample.empty() ? 0.0 : sample[std::min(sample.size() - 1, size_t(p * double(sample.size())))];
    };
    double mean = rows_ > 0 ? double(length_sum_) / double(rows_) : 0;
    r.numbers = {{"min", rows_ ? double(length_min_) : 0}, {"mean", mean}, {"p50", q(0.5)},
                 {"p99", q(0.99)}, {"max", double(length_max_)},
                 {"out_of_bounds", double(length_out_of_bounds_)}};
    r.message = fmt::format("length (bytes): min {} / median {} / p99 {} / max {}; {} outside the "
                            "bounds", rows_ ? length_min_ : 0, q(0.5), q(0.99), length_max_,
                            length_out_of_bounds_);
    for (int64_t l : length_bad_lines_) r.examples.push_back(fmt::format("line {}", l));
    out->push_back(std::move(r));
  }
}

void RecordChecker::Finish(const std::string& output, std::vector<CheckResult>* out,
                           Profile* profile) {
  FinishParse(output, out);
  FinishSchema(output, out);
  FinishRows(output, out);
  FinishRates(output, out);
  FinishDuplicates(output, out);
  FinishNearDuplicates(output, out);
  FinishLength(output, out);
  profile_.rows = rows_;
  if (spec_.drift.enabled &&
      std::find(spec_.drift.numeric.begin(), spec_.drift.numeric.end(), "length") != spec_.drift.numeric.end()) {
    profile_.numeric["length"] = lengths_;
  }
  if (profile) *profile = std::move(profile_);
}

}  // namespace inloop::data
