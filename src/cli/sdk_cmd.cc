// `inloop sdk path`: the Python SDK compiled into this binary, written where Python can import it.
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/json_writer.h"
#include "sdk/python_sdk.h"

namespace inloop::cli {

int CmdSdkPath(const std::string& store_dir, bool json) {
  std::string dir;
  Status s = sdk::EnsurePythonSdk(ResolveStore(store_dir), &dir);
  if (!s.ok()) {
    fmt::print(stderr, "inloop: error: cannot write the Python SDK: {}; set XDG_CACHE_HOME to a "
               "writable directory\n", s.message());
    return kExitIo;
  }
  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("path").String(dir);
    w.Key("key").String(sdk::PythonSdkKey());
    w.Key("pythonpath").String(sdk::PrependToPythonPath(dir, getenv("PYTHONPATH")));
    w.EndObject();
    fmt::print("{}\n", w.Take());
  } else {
    fmt::print("{}\n", dir);
  }
  return kExitOk;
}

}  // namespace inloop::cli
