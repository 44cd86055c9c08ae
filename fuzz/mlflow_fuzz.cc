// An MLflow run directory built from the input: the parts between lines "@@" become, in order,
// meta.yaml, metrics/loss, metrics/eval/acc, params/lr, tags/mlflow.runName and tags/note (the
// folder is emptied first). Contract: a run directory reads without error into one run; bad
// metric lines are issues with a line.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "importers/mlflow_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::importers;
  namespace fs = std::filesystem;
  static const fs::path dir = inloop::fuzz::ScratchDir() / "mlruns" / "0" / "abc123";
  static const char* kFiles[] = {"meta.yaml",  "metrics/loss",          "metrics/eval/acc",
                                 "params/lr", "tags/mlflow.runName", "tags/note"};
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const char* name : kFiles) {
    size_t sep = in.find("\n@@\n");
    inloop::fuzz::WriteFile(dir / name, in.substr(0, sep));
    if (sep == std::string_view::npos) break;
    in.remove_prefix(sep + 4);
  }
  fs::create_directories(dir / "metrics");
  ImportBatch out;
  FUZZ_CHECK(ReadMlflowRun(dir.string(), &out).ok(), "a run directory is an error");
  FUZZ_CHECK(out.runs.size() == 1, "a run directory did not give one run");
  for (auto& i : out.issues) FUZZ_CHECK(!i.message.empty(), "issue without a message");
  return 0;
}
