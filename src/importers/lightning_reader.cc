// Lightning CSVLogger folders: the wide-CSV reader plus hparams.yaml.
#include "importers/lightning_reader.h"

#include <filesystem>
#include <vector>

#include "importers/csv_reader.h"
#include "importers/simple_yaml.h"
#include "importers/text_input.h"

namespace inloop::importers {

Status ReadLightning(const std::string& path, ImportBatch* out) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec).lexically_normal();
  std::filesystem::path dir = abs.parent_path();
  ImportedRun run;
  std::string version = dir.filename().string(), parent = dir.parent_path().filename().string();
  run.name = parent.empty() ? version : parent + "/" + version;
  run.format = "lightning";
  run.source = path;

  int64_t rows = 0;
  INLOOP_RETURN_IF_ERROR(ReadWideCsvInto(path, &run, out, &rows));

  const std::string hparams = (std::filesystem::path(path).parent_path() / "hparams.yaml").string();
  if (std::filesystem::is_regular_file(hparams, ec)) {
    std::string text;
    Status s = ReadWholeFile(hparams, &text, 64u << 20);
    if (s.ok()) {
      out->bytes += static_cast<int64_t>(text.size());
      std::vector<YamlEntry> entries;
      std::vector<YamlProblem> problems;
      ReadSimpleYaml(text, &entries, &problems);
      for (auto& e : entries) run.SetParam(std::move(e.key), std::move(e.value));
      for (auto& p : problems) out->Issue(hparams, -1, p.line, p.message);
    } else {
      out->Issue(hparams, -1, 0, s.message() + "; params not imported");
    }
  }
  if (run.points() > 0 || !run.params.empty()) out->runs.push_back(std::move(run));
  return Status::OK();
}

}  // namespace inloop::importers
