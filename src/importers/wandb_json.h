// The JSON values W&B writes (history/summary/config `value_json`, wandb-history.jsonl lines,
// wandb-summary.json), flattened into leaves. Python's json module writes NaN, Infinity and
// -Infinity bare, so this small parser takes them as numbers (simdjson would reject them).
// Objects are descended and their keys joined to the prefix with '.' (W&B's own way of naming
// nested keys), except a media/histogram object (one with a string "_type" member), which stays
// one leaf. Arrays stay one leaf. Nesting deeper than kMaxDepth, or text that is not JSON, makes
// Flatten return false (leaves found before the error are kept). Never reads outside its input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace inloop::importers {

enum class WandbJsonKind { kNumber, kBool, kString, kNull, kArray, kMedia, kEmptyObject };

struct WandbJsonLeaf {
  std::string path;      // prefix, then ".key" per object level
  WandbJsonKind kind = WandbJsonKind::kNull;
  double number = 0;     // kNumber (NaN and infinities included); kBool: 1 or 0
  std::string text;      // kString: the decoded string; kMedia: its "_type"; else the JSON text
};

constexpr int kWandbJsonMaxDepth = 64;

// A JSON number at s[*pos] (Python's bare NaN, Infinity and -Infinity too; past double's range
// an infinity or zero) into *v, *pos moved past it. False when there is none (*pos then says
// where reading stopped).
bool ScanWandbJsonNumber(std::string_view s, size_t* pos, double* v);

// Appends the leaves of the JSON value `json` (surrounding white space allowed) to *out.
bool FlattenWandbJson(std::string_view json, std::string_view prefix,
                      std::vector<WandbJsonLeaf>* out);

// The kind as the import report counts it: "number", "bool", "string", "null", "list",
// "dict:<_type>" for media and histograms, "dict" for an empty object.
std::string WandbJsonKindName(const WandbJsonLeaf& leaf);

// A leaf's value as a param: the string itself, numbers as written (NaN as "NaN"), the JSON text
// of lists, "true"/"false"/"null".
std::string WandbJsonParamText(const WandbJsonLeaf& leaf);

}  // namespace inloop::importers
