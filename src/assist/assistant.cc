// The question loop and its transcript.
#include "assist/assistant.h"

#include <algorithm>

#include <fmt/format.h>

#include "assist/http_client.h"
#include "common/json_writer.h"

namespace inloop::assist {

const char* StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kAnswered: return "answered";
    case StopReason::kToolCallBound: return "tool_call_bound";
    case StopReason::kTokenBudget: return "token_budget";
    case StopReason::kError: return "error";
  }
  return "unknown";
}

Assistant::Assistant(AskOptions opts, store::Store* store, const ToolRegistry* tools)
    : opts_(std::move(opts)), store_(store), tools_(tools) {}

Status Assistant::Prepare() {
  if (opts_.focus_run.empty()) return Status::OK();
  return store_->FindRun(opts_.focus_run, &focus_);
}

std::string Assistant::SystemPrompt() const {
  std::string p =
      "You are the assistant built into inloop, a tool that supervises machine-learning training "
      "runs. inloop starts the training command, records every metric it logs as series of "
      "(step, value) points, watches them for loss spikes, non-finite values, divergence, hangs "
      "and crashes, and applies or proposes remedies (resume, rollback_skip, lr_cut, "
      "shrink_batch, stop). Runs can also be imported from other tools' logs.\n\n";
  std::vector<store::RunRecord> runs;
  if (store_->ListRuns(&runs).ok()) {
    if (runs.empty()) {
      p += "The store holds no runs yet.\n";
    } else {
      p += fmt::format("The store holds {} run{}; the newest is {} ({}), {}.\n", runs.size(),
                       runs.size() == 1 ? "" : "s", runs.front().name, runs.front().id,
                       runs.front().status);
    }
  }
  if (!focus_.id.empty()) {
    std::vector<store::SeriesStats> series;
    std::vector<std::string> keys;
    if (store_->SeriesStatsFor(focus_.id, &series).ok()) {
      for (auto& s : series) keys.push_back(s.key);
    }
    std::string shown = fmt::format("{}", fmt::join(keys.begin(),
                                                    keys.begin() + std::min<size_t>(keys.size(), 40),
                                                    ", "));
    if (keys.size() > 40) shown += fmt::format(" and {} more", keys.size() - 40);
    p += fmt::format(
        "The question is about run {} ({}): status {}, {} attempt{}, command `{}`; series: {}. "
        "Tools whose run argument is null use this run.\n",
        focus_.name, focus_.id, focus_.status, focus_.attempts, focus_.attempts == 1 ? "" : "s",
        fmt::join(focus_.command, " "), keys.empty() ? "none" : shown);
  }
  p += "\nYour tools read the store:\n";
  for (auto& t : tools_->tools()) p += fmt::format("- {}: {}\n", t.name, t.description);
  p += fmt::format(
      "\nRules: every number and fact you state must come from a tool result in this "
      "conversation; when the data does not answer the question, say so. You cannot run "
      "commands, edit files or change a run. To suggest a change, call propose_action: it only "
      "records a pending proposal that a person approves with `inloop approve ID` or denies with "
      "`inloop deny ID`; give its id in your answer. You have at most {} tool calls for this "
      "question. Answer briefly, in plain text.",
      opts_.max_tool_calls);
  return p;
}

void Assistant::Ask(const std::string& question, const StreamAccumulator::OnContent& on_text,
                    AskResult* r) {
  *r = AskResult{};
  r->focus_run_id = focus_.id;
  ChatClient client(opts_.endpoint);
  ToolContext ctx;
  ctx.store = store_;
  ctx.focus_run_id = focus_.id;
  ctx.model = opts_.endpoint.model;
  ctx.question = question;
  r->messages.push_back({"system", SystemPrompt(), {}, ""});
  r->messages.push_back({"user", question, {}, ""});
  ChatRequest req;
  req.tools = tools_->Specs();
  req.max_tokens = opts_.max_tokens;
  int calls_done = 0;
  for (;;) {
    req.messages = r->messages;
    Completion c;
    ChatError err = client.Complete(req, on_text, &c);
    r->requests = client.requests_sent();
    r->retries = client.retries();
    if (!err.ok()) {
      r->stop = StopReason::kError;
      r->error = err;
      r->stop_message = err.message;
      break;
    }
    ++r->completions;
    if (c.usage.reported) {
      r->usage.reported = true;
      r->usage.prompt_tokens += c.usage.prompt_tokens;
      r->usage.completion_tokens += c.usage.completion_tokens;
      r->usage.total_tokens += c.usage.total_tokens;
    }
    r->finish_reason = c.finish_reason;
    r->messages.push_back({"assistant", c.content, c.tool_calls, ""});
    if (c.tool_calls.empty()) {
      r->answer = c.content;
      r->stop = StopReason::kAnswered;
      if (c.content.find_first_not_of(" \t\r\n") == std::string::npos) {
        r->stop_message = "the model's answer was empty";
      } else if (c.finish_reason == "length") {
        r->stop_message = fmt::format("the answer was cut at the {}-token completion limit "
                                      "(--max-tokens)", opts_.max_tokens);
      }
      break;
    }
    int asked = static_cast<int>(c.tool_calls.size());
    if (calls_done + asked > opts_.max_tool_calls) {
      r->stop = StopReason::kToolCallBound;
      r->stop_message = fmt::format(
          "stopped without an answer: the model asked for {} more tool call{} after {} of the {} "
          "allowed per question (raise --max-tool-calls, or ask something narrower)",
          asked, asked == 1 ? "" : "s", calls_done, opts_.max_tool_calls);
      break;
    }
    for (auto& call : c.tool_calls) {
      ToolOutcome o = tools_->Call(ctx, call.name, call.arguments);
      ToolCallRecord rec{call.id, call.name, call.arguments, o.ok, o.error, o.result_bytes,
                         o.truncated};
      r->calls.push_back(std::move(rec));
      r->messages.push_back({"tool", o.result, {}, call.id});
    }
    calls_done += asked;
    if (r->usage.reported && r->usage.total_tokens > opts_.token_budget) {
      r->stop = StopReason::kTokenBudget;
      r->stop_message = fmt::format(
          "stopped without an answer: the question used {} tokens, over its budget of {} "
          "(--token-budget)", r->usage.total_tokens, opts_.token_budget);
      break;
    }
  }
  r->proposed_action_ids = ctx.proposed_action_ids;
  StoreTranscript(question, r);
}

void Assistant::StoreTranscript(const std::string& question, AskResult* r) {
  JsonWriter w;
  w.BeginObject().Key("question").String(question).Key("model").String(opts_.endpoint.model);
  w.Key("endpoint_host").String(UrlHost(opts_.endpoint.base_url));
  w.Key("focus_run").String(r->focus_run_id);
  w.Key("stop").String(StopReasonName(r->stop)).Key("stop_message").String(r->stop_message);
  w.Key("error");
  if (r->stop == StopReason::kError) {
    w.BeginObject().Key("kind").String(ChatErrorName(r->error.kind));
    w.Key("http_status").Int(r->error.http_status).Key("message").String(r->error.message);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("answer").String(r->answer).Key("finish_reason").String(r->finish_reason);
  w.Key("usage").BeginObject().Key("reported").Bool(r->usage.reported);
  w.Key("prompt_tokens").Int(r->usage.prompt_tokens);
  w.Key("completion_tokens").Int(r->usage.completion_tokens);
  w.Key("total_tokens").Int(r->usage.total_tokens).EndObject();
  w.Key("completions").Int(r->completions).Key("requests").Int(r->requests);
  w.Key("retries").Int(r->retries);
  w.Key("limits").BeginObject().Key("max_tool_calls").Int(opts_.max_tool_calls);
  w.Key("max_tokens").Int(opts_.max_tokens).Key("token_budget").Int(opts_.token_budget);
  w.EndObject();
  w.Key("tool_calls").BeginArray();
  for (auto& c : r->calls) {
    w.BeginObject().Key("id").String(c.id).Key("name").String(c.name);
    w.Key("arguments").String(c.arguments).Key("ok").Bool(c.ok);
    if (!c.ok) w.Key("error").String(c.error);
    w.Key("result_bytes").Int(c.result_bytes).Key("truncated").Bool(c.truncated).EndObject();
  }
  w.EndArray();
  w.Key("proposed_action_ids").BeginArray();
  for (auto id : r->proposed_action_ids) w.Int(id);
  w.EndArray();
  w.Key("messages");
  WriteMessagesJson(w, r->messages);
  w.EndObject();

  store::EventRecord e;
  e.run_id = r->focus_run_id;
  e.kind = "assistant_transcript";
  e.severity = r->stop == StopReason::kAnswered ? "info" : "warning";
  std::string q = question.size() > 120 ? question.substr(0, 117) + "..." : question;
  for (char& ch : q)
    if (ch == '\n' || ch == '\r') ch = ' ';
  e.message = fmt::format("asked \"{}\": {} ({} tool call{}, {} tokens, model {})", q,
                          StopReasonName(r->stop), r->calls.size(),
                          r->calls.size() == 1 ? "" : "s",
                          r->usage.reported ? std::to_string(r->usage.total_tokens) : "unreported",
                          opts_.endpoint.model);
  e.data_json = w.Take();
  r->transcript_status = store_->AddEvent(&e);
  if (r->transcript_status.ok()) r->transcript_event_id = e.id;
}

}  // namespace inloop::assist
