// ParseSdkMessage: one line of the SDK protocol (the pipe named by INLOOP_METRICS_FD).
// Contract: no crash or UB on any line; an accepted message has a known type.
#include <string_view>

#include "fuzz_util.h"
#include "ingest/sdk_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::ingest;
  SdkMessage msg;
  bool ok = ParseSdkMessage(std::string_view(reinterpret_cast<const char*>(data), size), &msg);
  if (ok) FUZZ_CHECK(msg.type != SdkMessage::Type::kUnknown, "accepted a message of no type");
  return 0;
}
