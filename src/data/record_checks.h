// RecordChecker: the per-record checks of one output, fed field by field by a format's scanner
// (scanners.cc) and turned into CheckResults at the end: schema (required fields and types),
// row bounds, null and empty rates, exact duplicates (64-bit hashes of the record or its text
// field, sorted at the end), near duplicates (minhash.h), lengths of the text field, and the
// samples and counts of the drift profile. The per-record path allocates nothing once the
// vectors have grown, except a new category of a categorical drift field.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/check_result.h"
#include "data/minhash.h"
#include "data/profile.h"
#include "data/step_spec.h"

namespace inloop::data {

enum class ValueKind { kString, kNumber, kInteger, kBool, kNull, kArray, kObject };

class RecordChecker {
 public:
  explicit RecordChecker(const ValidationSpec& spec);

  // The index of a field some check looks at, or -1.
  int FieldIndex(std::string_view name) const {
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (fields_[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }
  // The text field's index (-1: the whole record is the text, as in text files).
  int text_field() const { return text_field_; }

  void BeginRecord(int64_t line);
  // `text` is the string value (kString) or the number's text; `empty` for "", [] or {}.
  void OnField(int index, ValueKind kind, std::string_view text, double number, bool empty);
  // `raw` is the record's bytes; `text` the text for length/duplicates when text_field() < 0.
  void EndRecord(std::string_view raw, std::string_view text = {});
  void OnParseError(int64_t line);

  void Finish(const std::string& output, std::vector<CheckResult>* out, Profile* profile);

 private:
  struct Field {
    std::string name;
    std::string type;  // schema type, "" when the field is only read by another check
    bool seen = false;
    int64_t missing = 0, nulls = 0, empty = 0, wrong_type = 0;
    std::vector<int64_t> bad_lines;  // first few
    Reservoir* numeric = nullptr;  // drift samples, in profile_
    std::map<std::string, int64_t, std::less<>>* categories = nullptr;
  };
  int Add(const std::string& name);
  void TextValue(std::string_view text);
  CheckResult Base(const std::string& output, const char* check, const CheckSpec& c) const;
  void FinishParse(const std::string& output, std::vector<CheckResult>* out);
  void FinishSchema(const std::string& output, std::vector<CheckResult>* out);
  void FinishRows(const std::string& output, std::vector<CheckResult>* out);
  void FinishRates(const std::string& output, std::vector<CheckResult>* out);
  void FinishDuplicates(const std::string& output, std::vector<CheckResult>* out);
  void FinishNearDuplicates(const std::string& output, std::vector<CheckResult>* out);
  void FinishLength(const std::string& output, std::vector<CheckResult>* out);

  const ValidationSpec& spec_;
  std::vector<Field> fields_;
  int text_field_ = -1;
  bool dup_on_text_ = false;
  bool track_length_ = false;
  int64_t rows_ = 0, line_ = 0, parse_errors_ = 0, empty_records_ = 0;
  std::vector<int64_t> parse_error_lines_;
  bool have_text_ = false;
  std::string_view text_;
  std::vector<std::pair<uint64_t, int64_t>> hashes_;  // (hash, line)
  NearDuplicateIndex near_;
  std::vector<int64_t> near_lines_;  // record number -> line
  int64_t length_out_of_bounds_ = 0, length_sum_ = 0;
  int64_t length_min_ = INT64_MAX, length_max_ = 0;
  std::vector<int64_t> length_bad_lines_;
  Reservoir lengths_;
  Profile profile_;
};

}  // namespace inloop::data
