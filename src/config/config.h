// Config: inloop.toml, the one file where a human sets inloop's behaviour (docs/config.md).
// Loaded from --config FILE, else ./inloop.toml when present; every field has a documented
// default. Unknown fields and wrong types are errors naming file:line and the field.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "data/step_spec.h"
#include "config/mcp_config.h"
#include "detect/detect_config.h"
#include "ingest/line_parser.h"
#include "remedy/remedy_config.h"
#include "supervise/rank_link.h"

namespace inloop::config {

struct Config {
  std::string path;           // where it was loaded from; empty for defaults
  std::string store;          // [store] dir
  double grace_seconds = 30;  // [run] grace_seconds
  supervise::RanksListen ranks_listen;  // [run] ranks_listen (docs/sdk_protocol.md "Ranks")
  std::vector<ingest::CustomPattern> patterns;  // [[parse.patterns]] name, regex
  bool parse_lines_with_sdk = false;            // [parse] lines_with_sdk
  detect::DetectConfig detect;                  // [detect] (docs/detect.md)
  remedy::RemedyConfig remedy;                  // [remedy] (docs/remedy.md)
  // [audit] (docs/audit.md): what `inloop run` does when a file its command names fails
  // `inloop audit`: "off" (default; `inloop run --audit` means "block"), "warn", "ask", "block".
  std::string audit_policy = "off";
  std::vector<std::string> audit_allow;  // [audit] allow: trusted pickle globals, MODULE.NAME
  data::PipelineSpec data;               // [[data.step]] (docs/data.md)
  McpConfig mcp;                         // [mcp] (docs/mcp.md): what start_run may start
};

// Loads `path`. A missing file is NotFound; bad TOML or fields are Invalid.
Status LoadConfig(const std::string& path, Config* out);

// Loads `explicit_path` when set, else ./inloop.toml when it exists, else defaults.
Status ResolveConfig(const std::string& explicit_path, Config* out);

}  // namespace inloop::config
