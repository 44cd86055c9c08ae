// The line-based importers on one scratch file: JSON Lines (ingest::JsonMetrics per line) and
// plain logs (ingest::LineParser per line, ISO timestamps), with the shared LineReader
// (LF/CRLF/CR, BOM). Contract: a readable file is never an error; issues carry a line.
#include "fuzz_util.h"
#include "importers/jsonl_reader.h"
#include "importers/log_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::importers;
  static const auto path = inloop::fuzz::ScratchDir() / "train.log";
  inloop::fuzz::WriteFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  ImportBatch jsonl, log;
  FUZZ_CHECK(ReadJsonl(path.string(), &jsonl).ok(), "a readable file is a JSONL error");
  FUZZ_CHECK(ReadLog(path.string(), &log).ok(), "a readable file is a log error");
  for (auto& i : jsonl.issues) FUZZ_CHECK(i.line >= 0 && !i.message.empty(), "JSONL issue without a message");
  return 0;
}
