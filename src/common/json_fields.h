// Fields of a parsed JSON object (simdjson DOM) read with a default: the value when the key is
// present with that type, else "" or 0. For records inloop writes itself (the data manifest, the
// Slurm job records, loop events), where a missing field means "not recorded".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace inloop {

inline std::string JsonString(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get_string().get(v)) return "";
  return std::string(v);
}

inline int64_t JsonInt(simdjson::dom::element e, const char* key) {
  int64_t v = 0;
  if (e[key].get_int64().get(v)) return 0;
  return v;
}

inline double JsonDouble(simdjson::dom::element e, const char* key) {
  double v = 0;
  if (e[key].get_double().get(v)) return 0;
  return v;
}

}  // namespace inloop
