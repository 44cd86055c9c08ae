// ReadSimpleYaml: the YAML subset of Lightning's hparams.yaml and MLflow's meta.yaml.
// Contract: never fails as a whole; every entry and problem has a line inside the text.
#include <algorithm>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "importers/simple_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::importers;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<YamlEntry> entries;
  std::vector<YamlProblem> problems;
  ReadSimpleYaml(text, &entries, &problems);
  int64_t lines = 1 + std::count(text.begin(), text.end(), '\n') + std::count(text.begin(), text.end(), '\r');
  for (auto& e : entries) FUZZ_CHECK(e.line >= 1 && e.line <= lines, "entry line outside the text");
  for (auto& p : problems) {
    FUZZ_CHECK(p.line >= 0 && p.line <= lines, "problem line outside the text");
    FUZZ_CHECK(!p.message.empty(), "problem without a message");
  }
  return 0;
}
