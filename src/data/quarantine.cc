// The quarantine list and its application to JSONL/text outputs.
#include "data/quarantine.h"

#include <cstdio>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/file_io.h"
#include "common/json_writer.h"
#include "data/hash64.h"
#include "data/manifest.h"

namespace inloop::data {

Status LoadQuarantine(const std::string& data_dir, QuarantineList* q) {
  q->clear();
  std::string path = data_dir + "/quarantine.json", text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) return s.code() == Status::Code::kNotFound ? Status::OK() : s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object outputs;
  if (parser.parse(text).get(doc) || doc["outputs"].get_object().get(outputs)) {
    return Status::Corrupt(fmt::format("{}: not a quarantine list", path));
  }
  for (auto f : outputs) {
    simdjson::dom::array a;
    if (f.value.get_array().get(a)) continue;
    auto& v = (*q)[std::string(f.key)];
    for (auto r : a) {
      QuarantinedRecord rec;
      std::string_view hex, reason;
      int64_t line = 0;
      if (r["hash"].get_string().get(hex)) continue;
      rec.hash = std::strtoull(std::string(hex).c_str(), nullptr, 16);
      if (!r["line"].get_int64().get(line)) rec.line = line;
      if (!r["reason"].get_string().get(reason)) rec.reason = std::string(reason);
      v.push_back(rec);
    }
  }
  return Status::OK();
}

Status SaveQuarantine(const std::string& data_dir, const QuarantineList& q) {
  JsonWriter w;
  w.BeginObject().Key("outputs").BeginObject();
  for (auto& [out, recs] : q) {
    w.Key(out).BeginArray();
    for (auto& r : recs) {
      w.BeginObject().Key("hash").String(fmt::format("{:016x}", r.hash)).Key("line").Int(r.line);
      w.Key("reason").String(r.reason).EndObject();
    }
    w.EndArray();
  }
  w.EndObject().EndObject();
  INLOOP_RETURN_IF_ERROR(MakeDirs(data_dir));
  return WriteFileAtomically(data_dir + "/quarantine.json", w.str() + "\n");
}

Status ParseLineRanges(const std::string& text, std::vector<std::pair<int64_t, int64_t>>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    int64_t a = 0, b = 0;
    char dash = 0;
    int n = std::sscanf(part.c_str(), "%ld%c%ld", &a, &dash, &b);
    if (n == 1) b = a;
    if (!(n == 1 || (n == 3 && dash == '-')) || a < 1 || b < a) {
      return Status::Invalid(fmt::format("'{}' is not a line range: give LINE or FIRST-LAST (1-based), "
                                         "comma-separated", part));
    }
    out->emplace_back(a, b);
  }
  return Status::OK();
}

Status QuarantineLines(const std::string& path, const std::string& output,
                       const std::vector<std::pair<int64_t, int64_t>>& ranges,
                       const std::string& reason, QuarantineList* q, int64_t* added) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("{}: cannot read the output", path));
  auto& list = (*q)[output];
  std::set<uint64_t> have;
  for (auto& r : list) have.insert(r.hash);
  *added = 0;
  int64_t last = 0, want_last = 0;
  for (auto& [a, b] : ranges) want_last = std::max(want_last, b);
  std::string line;
  for (int64_t n = 1; n <= want_last && std::getline(in, line); ++n) {
    last = n;
    bool hit = false;
    for (auto& [a, b] : ranges) hit |= (n >= a && n <= b);
    if (!hit) continue;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    uint64_t h = Hash64(line);
    if (!have.insert(h).second) continue;
    list.push_back({h, n, reason});
    ++*added;
  }
  if (last < want_last) {
    return Status::NotFound(fmt::format("{} has {} lines; line {} is past its end", output, last, want_last));
  }
  return Status::OK();
}

Status ApplyQuarantine(const std::string& path, const std::vector<QuarantinedRecord>& records,
                       int64_t* removed) {
  *removed = 0;
  if (records.empty()) return Status::OK();
  std::set<uint64_t> drop;
  for (auto& r : records) drop.insert(r.hash);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("{}: cannot read the output", path));
  std::string tmp = path + ".quarantine.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    std::string line;
    while (std::getline(in, line)) {
      std::string_view v(line);
      if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
      if (drop.count(Hash64(v))) {
        ++*removed;
        continue;
      }
      out << line << '\n';
    }
    if (!out) return Status::Io(fmt::format("{}: cannot write", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::Io(fmt::format("{}: cannot replace", path));
  return Status::OK();
}

}  // namespace inloop::data
