// The CSV importer (wide and long tables, RFC 4180 quoting) through a scratch file, as
// `inloop import` reads it. Contract: a readable file is never an error; every issue has a message.
#include "fuzz_util.h"
#include "importers/csv_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::importers;
  static const auto path = inloop::fuzz::ScratchDir() / "metrics_run.csv";
  inloop::fuzz::WriteFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  ImportBatch out;
  FUZZ_CHECK(ReadCsv(path.string(), &out).ok(), "a readable CSV file is an error");
  for (auto& i : out.issues) FUZZ_CHECK(i.line >= 0 && !i.message.empty(), "issue without a message");
  return 0;
}
