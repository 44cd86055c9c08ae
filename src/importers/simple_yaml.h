// A reader for the small YAML subset that Lightning's hparams.yaml and MLflow's meta.yaml use:
// block maps nested by indentation (flattened to "a/b"), plain, single- and double-quoted and
// block (| >) scalars, and lists (inline [..]/{..} and block "- x" lists, kept as text). Anchors,
// aliases, tags (!!python/...), tabs in indentation and lines it cannot place become problems
// with their line numbers; it never fails as a whole and never recurses on its input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::importers {

struct YamlEntry {
  std::string key;    // "model/hidden"
  std::string value;  // the scalar as text (quotes removed, escapes decoded); lists as text
  int64_t line = 0;   // where the key is
};

struct YamlProblem {
  int64_t line = 0;
  std::string message;  // one line: what was not read and that it was skipped
};

// Reads `text` (one document; a BOM is ignored) into key/value pairs in file order.
void ReadSimpleYaml(std::string_view text, std::vector<YamlEntry>* entries,
                    std::vector<YamlProblem>* problems);

}  // namespace inloop::importers
