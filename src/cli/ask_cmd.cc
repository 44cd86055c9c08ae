// `inloop ask "QUESTION" [--run RUN]`: the assistant (assist/) over the endpoint named by
// INLOOP_LLM_URL, INLOOP_LLM_MODEL and INLOOP_LLM_KEY. The answer streams to stdout; notes and
// errors go to stderr; --json prints one object at the end instead. The key is never printed.
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <simdjson.h>

#include "assist/assistant.h"
#include "assist/http_client.h"
#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/json_writer.h"

namespace inloop::cli {
namespace {

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v ? std::string(v) : std::string();
}

int ExitCodeFor(const assist::AskResult& r) {
  using K = assist::ChatError::Kind;
  switch (r.stop) {
    case assist::StopReason::kAnswered: return kExitOk;
    case assist::StopReason::kToolCallBound:
    case assist::StopReason::kTokenBudget: return kExitAskBound;
    case assist::StopReason::kError: break;
  }
  switch (r.error.kind) {
    case K::kNone: return kExitOk;
    case K::kBadUrl: return kExitNoModel;
    case K::kUnreachable: return kExitModelUnreachable;
    case K::kTimeout: return kExitModelTimeout;
    case K::kHttp: return kExitModelHttpError;
    case K::kRateLimited: return kExitModelRateLimited;
    case K::kBadResponse: return kExitModelBadResponse;
    case K::kTruncated: return kExitModelTruncated;
  }
  return kExitModelBadResponse;
}

// Arguments as JSON when they parse, else as the string the model wrote.
void ArgumentsJson(JsonWriter& w, const std::string& args) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  simdjson::padded_string padded(args);
  if (!args.empty() && parser.parse(padded).get(e) == simdjson::SUCCESS) {
    w.Raw(simdjson::minify(e));
  } else {
    w.String(args);
  }
}

void PrintJson(const assist::AskOptions& o, const assist::AskResult& r) {
  JsonWriter w;
  w.BeginObject().Key("answer").String(r.answer);
  w.Key("stop").String(assist::StopReasonName(r.stop)).Key("stop_message").String(r.stop_message);
  w.Key("error");
  if (r.stop == assist::StopReason::kError) {
    w.BeginObject().Key("kind").String(assist::ChatErrorName(r.error.kind));
    w.Key("http_status").Int(r.error.http_status).Key("message").String(r.error.message);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("finish_reason").String(r.finish_reason).Key("model").String(o.endpoint.model);
  w.Key("endpoint_host").String(assist::UrlHost(o.endpoint.base_url));
  w.Key("run").String(r.focus_run_id);
  w.Key("tool_calls").BeginArray();
  for (auto& c : r.calls) {
    w.BeginObject().Key("id").String(c.id).Key("name").String(c.name).Key("arguments");
    ArgumentsJson(w, c.arguments);
    w.Key("ok").Bool(c.ok).Key("error").String(c.error);
    w.Key("result_bytes").Int(c.result_bytes).Key("truncated").Bool(c.truncated).EndObject();
  }
  w.EndArray();
  w.Key("usage").BeginObject().Key("reported").Bool(r.usage.reported);
  w.Key("prompt_tokens").Int(r.usage.prompt_tokens);
  w.Key("completion_tokens").Int(r.usage.completion_tokens);
  w.Key("total_tokens").Int(r.usage.total_tokens).EndObject();
  w.Key("completions").Int(r.completions).Key("requests").Int(r.requests);
  w.Key("retries").Int(r.retries);
  w.Key("proposed_action_ids").BeginArray();
  for (auto id : r.proposed_action_ids) w.Int(id);
  w.EndArray();
  w.Key("transcript_event_id");
  r.transcript_event_id ? w.Int(r.transcript_event_id) : w.Null();
  w.EndObject();
  fmt::print("{}\n", w.str());
}

}  // namespace

int CmdAsk(const AskArgs& a) {
  assist::AskOptions o;
  o.endpoint.base_url = Env("INLOOP_LLM_URL");
  o.endpoint.model = Env("INLOOP_LLM_MODEL");
  o.endpoint.api_key = Env("INLOOP_LLM_KEY");
  o.endpoint.idle_timeout_s = a.timeout_s;
  o.focus_run = a.run;
  o.max_tool_calls = a.max_tool_calls;
  o.max_tokens = a.max_tokens;
  o.token_budget = a.token_budget;
  if (o.endpoint.base_url.empty() || o.endpoint.model.empty()) {
    std::string missing = o.endpoint.base_url.empty() && o.endpoint.model.empty()
                              ? "INLOOP_LLM_URL and INLOOP_LLM_MODEL are"
                          : o.endpoint.base_url.empty() ? "INLOOP_LLM_URL is"
                                                        : "INLOOP_LLM_MODEL is";
    std::string msg = fmt::format(
        "no model endpoint configured ({} not set): set INLOOP_LLM_URL to an OpenAI-compatible "
        "API's base URL (e.g. https://api.openai.com/v1, or http://localhost:8000/v1 for a local "
        "vLLM or llama.cpp server), INLOOP_LLM_MODEL to the model's name, and INLOOP_LLM_KEY when "
        "the endpoint needs a key", missing);
    std::string hint = "without a model, `inloop report RUN` and `inloop insights` answer from "
                       "the store alone";
    if (a.json) {
      JsonWriter w;
      w.BeginObject().Key("answer").String("").Key("stop").String("error");
      w.Key("error").BeginObject().Key("kind").String("not_configured");
      w.Key("message").String(msg).Key("hint").String(hint).EndObject().EndObject();
      fmt::print("{}\n", w.str());
    }
    fmt::print(stderr, "inloop: error: {}\n  {}\n", msg, hint);
    return kExitNoModel;
  }
  const std::string& url = o.endpoint.base_url;
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    fmt::print(stderr, "inloop: error: INLOOP_LLM_URL must start with http:// or https:// (it "
               "names {}): set it to the API's base URL, e.g. https://api.openai.com/v1\n",
               assist::UrlHost(url));
    return kExitNoModel;
  }
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(ResolveStore(a.store_dir), &st);
  if (!s.ok()) return Fail(s);
  assist::ToolRegistry tools;
  assist::RegisterInloopTools(&tools);
  assist::Assistant assistant(o, st.get(), &tools);
  if (!(s = assistant.Prepare()).ok()) return Fail(s);

  bool at_line_start = true;
  assist::StreamAccumulator::OnContent on_text;
  if (!a.json) {
    on_text = [&](std::string_view text) {
      fwrite(text.data(), 1, text.size(), stdout);
      fflush(stdout);
      at_line_start = text.back() == '\n';
    };
  }
  assist::AskResult r;
  assistant.Ask(a.question, on_text, &r);
  int code = ExitCodeFor(r);
  if (a.json) {
    PrintJson(o, r);
  } else {
    if (!at_line_start) fmt::print("\n");
    for (auto id : r.proposed_action_ids) {
      fmt::print("proposed action {} (pending): approve with `inloop approve {}`, deny with "
                 "`inloop deny {}`; nothing runs until a person decides\n", id, id, id);
    }
    std::fflush(stdout);
  }
  if (code != kExitOk) {
    fmt::print(stderr, "inloop: error: {}\n", r.stop_message);
  } else if (!r.stop_message.empty()) {
    fmt::print(stderr, "inloop: note: {}\n", r.stop_message);
  }
  if (!r.transcript_status.ok()) {
    fmt::print(stderr, "inloop: warning: the transcript was not stored: {}\n",
               r.transcript_status.message());
  } else if (!a.json) {
    fmt::print(stderr, "({} tool call{}, {} tokens; transcript: event {}{})\n", r.calls.size(),
               r.calls.size() == 1 ? "" : "s",
               r.usage.reported ? std::to_string(r.usage.total_tokens) : "unreported",
               r.transcript_event_id,
               r.focus_run_id.empty() ? " (store-wide)" : " on run " + r.focus_run_id);
  }
  return code;
}

}  // namespace inloop::cli
