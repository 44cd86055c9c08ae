// DataRead: one dataset version a run read, recorded as a "data_read" event on the run (its
// data_json is DataReadJson). Two sources: a pipeline output named in the run's command
// ("command", found through the project's manifest), and the SDK's inloop.dataset(name, path)
// ("sdk"). The version is the manifest's content hash when the file still has the size, mtime and
// inode the pipeline recorded; nothing here reads the data itself, so the supervisor can call it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::data {

inline constexpr const char* kDataReadEvent = "data_read";
inline constexpr const char* kDataCheckEvent = "data_check";
inline constexpr const char* kDataStepEvent = "data_step";

struct DataRead {
  std::string name;    // the SDK's name, or the output's path as the config names it
  std::string path;    // absolute
  std::string sha256;  // "" when unknown (not a pipeline file, or changed since it was built)
  std::string step;    // the pipeline step that produced it, "" when none
  int64_t size = -1;
  std::string source;  // "command" | "sdk"
};

std::string DataReadJson(const DataRead& r);
bool ParseDataRead(std::string_view json, DataRead* out);

// The arguments of `command` (also the value of a --flag=VALUE) that are outputs of the pipeline
// whose manifest is under `cwd`/.inloop/data, in command order, each once; under a data step's
// run (INLOOP_DATA_STEP set) not the outputs of that step itself.
std::vector<DataRead> CommandDataReads(const std::vector<std::string>& command, const std::string& cwd);

// The gate of docs/data.md: the pipeline outputs `command` names whose producing step's last
// build failed, its command ("failed") or an error check ("invalid"). A training run on them would
// train on data the pipeline refused; `inloop run` stops before it starts. An invalid output
// edited since (its stat key no longer the manifest's) is the user's: not refused; a failed
// step's output is refused unless it is still the version the pipeline last recorded.
struct RefusedData {
  DataRead read;
  std::string status;   // "failed" | "invalid"
  std::string message;  // the step's reason (the first failing check)
};
std::vector<RefusedData> RefusedCommandData(const std::vector<std::string>& command,
                                            const std::string& cwd);

// The SDK's dataset(name, path): `path` relative to `cwd` when not absolute.
DataRead DescribeDataset(const std::string& name, const std::string& path, const std::string& cwd);

// An absolute, normalized path (realpath when it exists, else lexical).
std::string AbsolutePath(const std::string& path, const std::string& cwd);

}  // namespace inloop::data
