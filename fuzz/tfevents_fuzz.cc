// TensorBoard event files: TFRecord framing + Event protobufs (importers/tfevents.h).
// With bit 0 of the first byte set, the rest is cut into records with good CRCs (2-byte length
// prefixes) so that the protobuf decoding and the scalar/tensor/hparams paths are reached.
// Contract: reading the file in small pieces gives what parsing it whole gives (the header's
// promise), and every issue names an offset inside the file.
#include <cstring>
#include <string>
#include <string_view>

#include "common/crc32c.h"
#include "fuzz_util.h"
#include "importers/tfevents.h"

namespace {
std::string Framed(std::string_view in) { return inloop::fuzz::TfRecordFramed(in, 2048); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::importers;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string bytes = (data[0] & 1) ? Framed(in) : std::string(in);
  static const auto path = inloop::fuzz::ScratchDir() / "run" / "events.out.tfevents.1.host";
  ImportBatch whole;
  ImportedRun run;
  ParseTfEvents(bytes, path.string(), &run, &whole);
  for (auto& i : whole.issues)
    FUZZ_CHECK(i.offset >= 0 && i.offset <= static_cast<int64_t>(bytes.size()), "issue offset outside the file");
  if (data[0] & 2) {
    inloop::fuzz::WriteFile(path, bytes);
    ImportBatch pieces;
    size_t piece = 1 + (data[0] >> 2);
    FUZZ_CHECK(ReadTfEventsFile(path.string(), &pieces, piece).ok(), "readable file failed");
    FUZZ_CHECK(pieces.runs.size() == 1, "not one run");
    FUZZ_CHECK(pieces.runs[0].points() == run.points(), "pieces and whole disagree on points");
    FUZZ_CHECK(pieces.issues.size() == whole.issues.size(), "pieces and whole disagree on issues");
  }
  return 0;
}
