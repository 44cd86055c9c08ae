// JsonWriter: builds compact JSON text (the CLI's --json output, stored JSON columns).
// Non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity", the project's
// convention, so every output is valid JSON. Invalid UTF-8 in strings is replaced by U+FFFD.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inloop {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view k);
  JsonWriter& String(std::string_view s);
  JsonWriter& Number(double v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Bool(bool b);
  JsonWriter& Null();
  JsonWriter& Raw(std::string_view json);  // an already-encoded JSON value

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

// Appends s to out as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view s);
// Formats a double the shortest way that round-trips ("NaN"/"Infinity" quoted).
std::string JsonNumber(double v);

}  // namespace inloop
