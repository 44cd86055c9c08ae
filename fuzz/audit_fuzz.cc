// The checkpoint audit's readers on untrusted bytes: the pickle opcode scan, the ZIP central
// directory and member reads, the safetensors header check.
// Contract: no crash, no UB, no read outside the input; a complete scan ends inside the input.
#include <string>
#include <string_view>
#include <vector>

#include "audit/pickle_scan.h"
#include "audit/safetensors_check.h"
#include "audit/zip_reader.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::audit;
  std::string_view d(reinterpret_cast<const char*>(data), size);
  Allowlist allow;
  PickleScan s = ScanPickle(d, allow);
  FUZZ_CHECK(s.end <= size, "the scan ended past the input");
  std::vector<ZipMember> members;
  if (ListZip(d, &members).ok()) {
    for (const ZipMember& m : members) {
      std::string storage;
      std::string_view bytes;
      if (ReadZipMember(d, m, 1 << 20, &storage, &bytes).ok()) ScanPickle(bytes, allow);
    }
  }
  std::vector<Finding> findings;
  CheckSafetensors(d, &findings);
  return 0;
}
