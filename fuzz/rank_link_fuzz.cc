// RankConnection: the bytes a connection to the ranks' TCP socket sends (supervise/rank_link.h),
// fed in chunks whose sizes the input's first byte picks; ParseRanksListen on the same bytes.
// Contract: no crash or UB; no line before the secret was presented; a delivered line holds no
// newline and stays within the limit; a refused connection stays refused.
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "supervise/rank_link.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::supervise;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t chunk = 1 + data[0] % 64;
  RanksListen listen;
  (void)ParseRanksListen(in.substr(0, 300), &listen);
  // The seeds start with "inloop-ranks/1 " and this secret.
  RankConnection c(std::string(64, 's'), 128);
  bool refused = false;
  auto on_line = [&](std::string_view line) {
    FUZZ_CHECK(c.authenticated(), "a line before the secret");
    FUZZ_CHECK(line.find('\n') == std::string_view::npos, "a newline inside a line");
    FUZZ_CHECK(line.size() <= 128, "a line over the limit");
    FUZZ_CHECK(!line.empty(), "an empty line");
  };
  for (size_t i = 0; i < in.size(); i += chunk) {
    bool ok = c.Feed(in.substr(i, chunk), on_line);
    FUZZ_CHECK(!(refused && ok), "a refused connection accepted bytes again");
    if (!ok) {
      FUZZ_CHECK(!c.reason().empty(), "refused without a reason");
      refused = true;
    }
  }
  if (!refused) c.Finish(on_line);
  return 0;
}
