// JSON-RPC framing and dispatch for the MCP server; tool work is assist::ToolRegistry's.
#include "mcp/mcp_server.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>
#include <simdjson.h>

#include "assist/eval_tool.h"
#include "common/json_writer.h"
#include "loop/loop_tools.h"
#include "mcp/loop_round_tool.h"
#include "store/store.h"

namespace inloop::mcp {
namespace {

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr size_t kMaxLine = 4 << 20;

std::string ErrorLine(const std::string& id_json, int code, const std::string& message) {
  JsonWriter w;
  w.BeginObject().Key("jsonrpc").String("2.0").Key("id").Raw(id_json);
  w.Key("error").BeginObject().Key("code").Int(code).Key("message").String(message);
  w.EndObject().EndObject();
  return w.Take();
}

std::string ResultLine(const std::string& id_json, const std::string& result_json) {
  JsonWriter w;
  w.BeginObject().Key("jsonrpc").String("2.0").Key("id").Raw(id_json);
  w.Key("result").Raw(result_json).EndObject();
  return w.Take();
}

bool KnownVersion(std::string_view v) {
  return v == "2025-06-18" || v == "2025-03-26" || v == "2024-11-05";
}

// Tools that do not read runs from the store (start_run's store may not exist yet).
bool NeedsStore(std::string_view name) {
  return name != "evaldiff" && name != "loop_status" && name != "start_run" &&
         name != "loop_round";
}

}  // namespace

McpServer::McpServer(McpOptions o) : o_(std::move(o)) {
  assist::ToolRegistry all;
  assist::RegisterInloopTools(&all);
  for (const auto& t : all.tools()) {
    if (t.name != "propose_action") tools_.Register(t);  // the run tools' own version, below
  }
  assist::RegisterEvalDiffTool(&tools_, o_.root);
  loop::RegisterLoopTools(&tools_, o_.root);
  RegisterLoopRoundTool(&tools_, o_.root);  // loop_round: a change as one round (issue 21)
  LauncherOptions lo;
  lo.limits = o_.limits;
  lo.root = o_.root;
  lo.store_dir = o_.store_dir;
  lo.config_path = o_.config_path;
  launcher_ = std::make_unique<RunLauncher>(std::move(lo));
  launcher_->Register(&tools_);
  tools_.result_cap = 64 * 1024;
}

std::string McpServer::HandleLine(std::string_view line) {
  if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) return "";
  if (line.size() > kMaxLine) return ErrorLine("null", kInvalidRequest, "message over 4 MiB");
  simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::element msg;
  if (parser.parse(padded).get(msg)) return ErrorLine("null", kParseError, "parse error: not JSON");
  simdjson::dom::object obj;
  if (msg.get(obj)) {
    return ErrorLine("null", kInvalidRequest, "expected one JSON-RPC request object (no batches)");
  }
  simdjson::dom::element id_el;
  bool has_id = !obj["id"].get(id_el);
  std::string id_json = "null";
  if (has_id) {
    if (!id_el.is_string() && !id_el.is_int64() && !id_el.is_uint64()) {
      return ErrorLine("null", kInvalidRequest, "id must be a string or an integer");
    }
    id_json = simdjson::minify(id_el);
  }
  std::string_view version, method;
  if (obj["jsonrpc"].get(version) || version != "2.0") {
    return has_id ? ErrorLine(id_json, kInvalidRequest, "jsonrpc must be \"2.0\"") : "";
  }
  if (obj["method"].get(method)) {
    // A response from the client (we send no requests) or garbage: nothing to answer.
    return has_id && obj["result"].error() && obj["error"].error()
               ? ErrorLine(id_json, kInvalidRequest, "method missing")
               : "";
  }
  simdjson::dom::element params;
  bool has_params = !obj["params"].get(params);
  if (has_params && !params.is_object() && !params.is_null()) {
    return has_id ? ErrorLine(id_json, kInvalidParams, "params must be an object") : "";
  }
  if (!has_id) {  // notifications: no response, whatever they are
    if (method == "notifications/initialized") initialized_ = true;
    return "";
  }
  if (method == "initialize") {
    std::string_view asked;
    std::string answer = kProtocolVersion;
    if (has_params && !params["protocolVersion"].get(asked) && KnownVersion(asked)) {
      answer = std::string(asked);
    }
    JsonWriter w;
    w.BeginObject().Key("protocolVersion").String(answer);
    w.Key("capabilities").BeginObject().Key("tools").BeginObject().Key("listChanged").Bool(false);
    w.EndObject().EndObject();
    w.Key("serverInfo").BeginObject().Key("name").String("inloop").Key("version").String(o_.version);
    w.EndObject();
    w.Key("instructions").String(
        "inloop's lab bench: list_runs/show_run/query_series/events read supervised training "
        "runs, compare two runs' curves, report one run, insights across runs, evaldiff two "
        "eval files, loop_status the research loop of this repository. start_run runs an "
        "experiment under supervision within the limits the human set in inloop.toml [mcp]; "
        "run_status, wait_run and stop_run follow it; propose_action asks a person to act.");
    w.EndObject();
    return ResultLine(id_json, w.Take());
  }
  if (method == "ping") return ResultLine(id_json, "{}");
  if (method == "tools/list") {
    JsonWriter w;
    w.BeginObject().Key("tools").BeginArray();
    for (const auto& t : tools_.tools()) {
      w.BeginObject().Key("name").String(t.name).Key("description").String(t.description);
      w.Key("inputSchema").Raw(assist::SchemaJson(t.parameters)).EndObject();
    }
    w.EndArray().EndObject();
    return ResultLine(id_json, w.Take());
  }
  if (method == "tools/call") {
    std::string_view name;
    if (!has_params || params.is_null() || params["name"].get(name)) {
      return ErrorLine(id_json, kInvalidParams, "tools/call needs params.name");
    }
    const assist::Tool* tool = tools_.Find(name);
    if (!tool) return ErrorLine(id_json, kInvalidParams, fmt::format("unknown tool: {}", name));
    simdjson::dom::element args;
    std::string args_json = "{}";
    if (!params["arguments"].get(args) && !args.is_null()) args_json = simdjson::minify(args);
    std::unique_ptr<store::Store> store;
    assist::ToolOutcome outcome;
    Status s = Status::OK();
    if (NeedsStore(name)) s = store::Store::Open(o_.store_dir, false, &store);
    if (!s.ok()) {
      outcome.ok = false;
      outcome.result = fmt::format("no inloop store to read: {}", s.message());
    } else {
      assist::ToolContext ctx;
      ctx.store = store.get();
      ctx.model = "mcp";
      outcome = tools_.Call(ctx, name, args_json);
    }
    JsonWriter w;
    w.BeginObject().Key("content").BeginArray().BeginObject().Key("type").String("text");
    w.Key("text").String(outcome.result).EndObject().EndArray();
    w.Key("isError").Bool(!outcome.ok).EndObject();
    return ResultLine(id_json, w.Take());
  }
  return ErrorLine(id_json, kMethodNotFound, fmt::format("method not found: {}", method));
}

int McpServer::Serve(int in_fd, int out_fd) {
  std::string buf;
  char chunk[65536];
  auto write_line = [&](std::string line) {
    line += '\n';
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::write(out_fd, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  };
  bool skipping = false;  // inside a line over the limit: answered once, the rest dropped
  for (;;) {
    pollfd pfd{in_fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 1000);
    launcher_->Tick();  // budgets hold while the agent is quiet too
    if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
    ssize_t n = ::read(in_fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (skipping) {
        skipping = false;
        continue;
      }
      std::string resp = HandleLine(std::string_view(buf).substr(start, nl - start));
      if (!resp.empty() && !write_line(resp)) return 1;
    }
    buf.erase(0, start);
    if (buf.size() > kMaxLine) {
      if (!skipping && !write_line(ErrorLine("null", kInvalidRequest, "message over 4 MiB"))) return 1;
      skipping = true;
      buf.clear();
    }
  }
  if (!skipping && !buf.empty()) {
    std::string resp = HandleLine(buf);
    if (!resp.empty() && !write_line(resp)) return 1;
  }
  return 0;
}

}  // namespace inloop::mcp
