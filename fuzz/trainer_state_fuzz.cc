// Hugging Face trainer_state.json (log_history) through a scratch file.
// Contract: no crash; a failure is a Status with a message, never an exception.
#include "fuzz_util.h"
#include "importers/trainer_state_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::importers;
  static const auto path = inloop::fuzz::ScratchDir() / "checkpoint-1" / "trainer_state.json";
  inloop::fuzz::WriteFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  ImportBatch out;
  inloop::Status s = ReadTrainerState(path.string(), &out);
  if (!s.ok()) FUZZ_CHECK(!s.message().empty(), "an error without a message");
  for (auto& i : out.issues) FUZZ_CHECK(!i.message.empty(), "issue without a message");
  return 0;
}
