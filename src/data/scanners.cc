// The format scanners behind ValidateOutput: a block reader hands complete lines (in a buffer
// with simdjson's padding after them) to the JSONL, CSV and text record loops; token shards are
// read as arrays. Nothing allocates per record: simdjson's On-Demand parser reuses its buffers,
// CSV fields are views into the block.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <unordered_set>

#include <fmt/format.h>
#include <simdjson.h>

#include "data/hash64.h"
#include "data/record_checks.h"
#include "data/validate.h"

namespace inloop::data {
namespace {

constexpr size_t kBlock = 8 << 20;

// Calls fn(data, len, capacity_after_data, line_number) for each line (without its '\n').
template <typename Fn>
Status ForEachLine(const std::string& path, Fn fn) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(fmt::format("{}: cannot open the output to validate", path));
  std::vector<char> buf(kBlock + simdjson::SIMDJSON_PADDING);
  size_t have = 0;
  int64_t line = 0;
  bool eof = false;
  while (!eof) {
    if (have == buf.size() - simdjson::SIMDJSON_PADDING) buf.resize(buf.size() * 2);  // a huge line
    size_t room = buf.size() - simdjson::SIMDJSON_PADDING - have;
    ssize_t n = ::read(fd, buf.data() + have, room);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::Io(fmt::format("{}: read failed", path));
    }
    if (n == 0) eof = true;
    size_t end = have + static_cast<size_t>(n);
    std::memset(buf.data() + end, 0, simdjson::SIMDJSON_PADDING);
    const size_t cap_end = buf.size();
    size_t start = 0;
    for (;;) {
      const char* nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', end - start));
      if (!nl) break;
      size_t len = static_cast<size_t>(nl - (buf.data() + start));
      size_t l = len;
      if (l > 0 && buf[start + l - 1] == '\r') --l;
      fn(buf.data() + start, l, cap_end - start, ++line);
      start += len + 1;
    }
    if (eof && start < end) {
      size_t l = end - start;
      if (buf[start + l - 1] == '\r') --l;
      fn(buf.data() + start, l, cap_end - start, ++line);
      start = end;
    }
    std::memmove(buf.data(), buf.data() + start, end - start);
    have = end - start;
  }
  ::close(fd);
  return Status::OK();
}

bool Blank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != ' ' && p[i] != '\t') return false;
  }
  return true;
}

// Hands the fields some check reads to the checker; false when the record is not valid JSON.
bool ReadFields(simdjson::ondemand::object obj, RecordChecker* rc) {
  bool ok = true;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      ok = false;
      break;
    }
    int idx = rc->FieldIndex(key);
    if (idx < 0) continue;
    simdjson::ondemand::value v;
    simdjson::ondemand::json_type t;
    if (field.value().get(v) || v.type().get(t)) {
      ok = false;
      break;
    }
    std::string_view text;
    double num = 0;
    switch (t) {
      case simdjson::ondemand::json_type::string:
        if (v.get_string().get(text)) ok = false;
        rc->OnField(idx, ValueKind::kString, text, 0, text.empty());
        break;
      case simdjson::ondemand::json_type::number: {
        text = v.raw_json_token();
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
        bool is_int = false;
        if (v.is_integer().get(is_int)) is_int = false;
        if (v.get_double().get(num)) ok = false;
        rc->OnField(idx, is_int ? ValueKind::kInteger : ValueKind::kNumber, text, num, false);
        break;
      }
      case simdjson::ondemand::json_type::boolean: {
        bool b = false;
        if (v.get_bool().get(b)) ok = false;
        rc->OnField(idx, ValueKind::kBool, b ? "true" : "false", b, false);
        break;
      }
      case simdjson::ondemand::json_type::null:
        rc->OnField(idx, ValueKind::kNull, "null", 0, false);
        break;
      case simdjson::ondemand::json_type::array: {
        simdjson::ondemand::array a;
        size_t count = 0;
        if (v.get_array().get(a) || a.count_elements().get(count)) ok = false;
        rc->OnField(idx, ValueKind::kArray, "", 0, count == 0);
        break;
      }
      case simdjson::ondemand::json_type::object: {
        simdjson::ondemand::object o;
        size_t count = 0;
        if (v.get_object().get(o) || o.count_fields().get(count)) ok = false;
        rc->OnField(idx, ValueKind::kObject, "", 0, count == 0);
        break;
      }
    }
    if (!ok) break;
  }
  return ok;
}

Status ScanJsonl(const std::string& path, RecordChecker* rc) {
  simdjson::ondemand::parser parser;
  return ForEachLine(path, [&](const char* p, size_t n, size_t cap, int64_t line) {
    if (Blank(p, n)) return;
    rc->BeginRecord(line);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(p, n, cap).get(doc) || doc.get_object().get(obj)) {
      rc->OnParseError(line);
      return;
    }
    const char* after = nullptr;  // a location in bounds after the object: trailing content
    if (!ReadFields(obj, rc) || !doc.current_location().get(after)) {
      rc->OnParseError(line);
      return;
    }
    rc->EndRecord(std::string_view(p, n));
  });
}

// Splits a CSV line into fields (views; a quoted field keeps its inner text, "" unescaped lazily
// as two quotes). False on an unterminated quote.
bool SplitCsv(std::string_view line, std::vector<std::string_view>* fields) {
  fields->clear();
  size_t i = 0;
  for (;;) {
    if (i < line.size() && line[i] == '"') {
      size_t j = i + 1;
      for (;;) {
        size_t q = line.find('"', j);
        if (q == std::string_view::npos) return false;
        if (q + 1 < line.size() && line[q + 1] == '"') {
          j = q + 2;
          continue;
        }
        fields->push_back(line.substr(i + 1, q - i - 1));
        i = q + 1;
        break;
      }
      if (i < line.size() && line[i] != ',') return false;
    } else {
      size_t c = line.find(',', i);
      size_t e = c == std::string_view::npos ? line.size() : c;
      fields->push_back(line.substr(i, e - i));
      i = e;
    }
    if (i >= line.size()) return true;
    ++i;  // the comma
  }
}

Status ScanCsv(const std::string& path, RecordChecker* rc) {
  std::vector<int> column_field;  // column -> checker field index
  std::vector<std::string_view> fields;
  bool header = true;
  return ForEachLine(path, [&](const char* p, size_t n, size_t, int64_t line) {
    std::string_view l(p, n);
    if (header) {
      header = false;
      if (!SplitCsv(l, &fields)) return;
      for (auto f : fields) column_field.push_back(rc->FieldIndex(f));
      return;
    }
    if (Blank(p, n)) return;
    rc->BeginRecord(line);
    if (!SplitCsv(l, &fields) || fields.size() != column_field.size()) {
      rc->OnParseError(line);
      return;
    }
    for (size_t c = 0; c < fields.size(); ++c) {
      int idx = column_field[c];
      if (idx < 0) continue;
      std::string_view v = fields[c];
      if (v.empty()) {
        rc->OnField(idx, ValueKind::kNull, v, 0, true);
        continue;
      }
      double num = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), num);
      bool numeric = ec == std::errc() && ptr == v.data() + v.size();
      bool integer = numeric && v.find_first_of(".eE") == std::string_view::npos;
      rc->OnField(idx, integer ? ValueKind::kInteger : numeric ? ValueKind::kNumber : ValueKind::kString,
                  v, num, false);
    }
    rc->EndRecord(l);
  });
}

Status ScanText(const std::string& path, RecordChecker* rc) {
  return ForEachLine(path, [&](const char* p, size_t n, size_t, int64_t line) {
    rc->BeginRecord(line);
    rc->EndRecord(std::string_view(p, n), std::string_view(p, n));
  });
}

}  // namespace

Status ScanTokens(const std::string& path, const ValidationSpec& spec, std::vector<CheckResult>* out,
                  Profile* profile);

Status ValidateOutput(const std::string& path, const ValidationSpec& spec, const Profile* previous,
                      std::vector<CheckResult>* results, Profile* profile) {
  results->clear();
  Profile current;
  if (spec.format == "tokens") {
    INLOOP_RETURN_IF_ERROR(ScanTokens(path, spec, results, &current));
  } else {
    RecordChecker rc(spec);
    Status s = spec.format == "jsonl" ? ScanJsonl(path, &rc)
               : spec.format == "csv" ? ScanCsv(path, &rc)
                                      : ScanText(path, &rc);
    INLOOP_RETURN_IF_ERROR(s);
    rc.Finish(spec.output, results, &current);
  }
  if (spec.drift.enabled && previous) DriftChecks(spec.output, spec.drift, *previous, current, results);
  if (profile) *profile = std::move(current);
  return Status::OK();
}

}  // namespace inloop::data
