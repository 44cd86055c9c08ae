#include "audit/safetensors_check.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <simdjson.h>

namespace inloop::audit {
namespace {

constexpr uint64_t kMaxHeader = 100u << 20;  // safetensors' own limit is 100 MB

uint64_t Le64(std::string_view d) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<uint8_t>(d[i])) << (8 * i);
  return v;
}

int DtypeBytes(std::string_view t) {
  static const std::pair<std::string_view, int> kSizes[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1},
      {"F8_E5M2", 1}, {"C64", 8}, {"C128", 16}};
  for (auto& [name, n] : kSizes) {
    if (name == t) return n;
  }
  return 0;
}

void Add(std::vector<Finding>* out, const char* rule, Severity s, std::string msg, int64_t off) {
  Finding f;
  f.rule = rule;
  f.severity = s;
  f.message = std::move(msg);
  f.fix = "re-export the tensors with the safetensors library from a trusted source";
  f.offset = off;
  out->push_back(std::move(f));
}

}  // namespace

bool LooksLikeSafetensors(std::string_view d) {
  if (d.size() < 10) return false;
  uint64_t n = Le64(d);
  return n >= 2 && n <= kMaxHeader && n <= d.size() - 8 && d[8] == '{';
}

int CheckSafetensors(std::string_view d, std::vector<Finding>* out) {
  if (d.size() < 8) {
    Add(out, "safetensors.header", Severity::kHigh, "shorter than the 8-byte header length", 0);
    return 0;
  }
  uint64_t n = Le64(d);
  if (n > kMaxHeader || n > d.size() - 8) {
    Add(out, "safetensors.header", Severity::kHigh,
        fmt::format("the header length {} does not fit the file ({} bytes)", n, d.size()), 0);
    return 0;
  }
  uint64_t data_len = d.size() - 8 - n;
  simdjson::dom::parser parser;
  simdjson::padded_string header(d.substr(8, n));
  simdjson::dom::object obj;
  if (parser.parse(header).get_object().get(obj)) {
    Add(out, "safetensors.header", Severity::kHigh, "the header is not a JSON object", 8);
    return 0;
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  int tensors = 0;
  size_t findings_before = out->size();
  for (auto field : obj) {
    std::string_view name = field.key;
    if (name == "__metadata__") {
      simdjson::dom::object meta;
      bool strings = !field.value.get_object().get(meta);
      if (strings) {
        for (auto m : meta) strings = strings && m.value.is_string();
      }
      if (!strings) {
        Add(out, "safetensors.metadata", Severity::kLow,
            "__metadata__ is not a map of strings to strings", 8);
      }
      continue;
    }
    ++tensors;
    std::string_view dtype;
    simdjson::dom::array shape, offsets;
    if (field.value["dtype"].get_string().get(dtype) || field.value["shape"].get_array().get(shape) ||
        field.value["data_offsets"].get_array().get(offsets) || offsets.size() != 2) {
      Add(out, "safetensors.tensor", Severity::kHigh,
          fmt::format("tensor {} lacks dtype, shape or a [begin, end] data_offsets", name), 8);
      continue;
    }
    int width = DtypeBytes(dtype);
    uint64_t b = 0, e = 0, count = 1;
    bool ok = width > 0 && !offsets.at(0).get_uint64().get(b) && !offsets.at(1).get_uint64().get(e);
    for (auto dim : shape) {
      uint64_t x;
      if (dim.get_uint64().get(x) || (x != 0 && count > UINT64_MAX / x)) { ok = false; break; }
      count *= x;
    }
    if (!ok || b > e || e > data_len || count > UINT64_MAX / std::max(width, 1) ||
        e - b != count * static_cast<uint64_t>(width)) {
      Add(out, "safetensors.tensor", Severity::kHigh,
          fmt::format("tensor {} ({}) has a byte range [{}, {}) that does not match its shape or "
                      "lies outside the {}-byte data region", name, dtype, b, e, data_len), 8);
      continue;
    }
    ranges.emplace_back(b, e);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0, at = 0;
  for (auto [b, e] : ranges) {
    if (b < at) {
      Add(out, "safetensors.overlap", Severity::kHigh,
          fmt::format("tensor byte ranges overlap at data offset {}", b), static_cast<int64_t>(8 + n + b));
    }
    if (e > at) covered += e - std::max(b, at);
    at = std::max(at, e);
  }
  // Unreferenced bytes only mean something when every tensor's range was readable.
  if (covered < data_len && out->size() == findings_before) {
    Add(out, "safetensors.unreferenced", Severity::kMedium,
        fmt::format("{} bytes of the data region belong to no tensor", data_len - covered),
        static_cast<int64_t>(8 + n));
  }
  return tensors;
}

}  // namespace inloop::audit
