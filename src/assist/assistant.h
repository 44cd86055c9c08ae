// Assistant: answers one question about the runs in a store with a model over an OpenAI-compatible
// endpoint. The loop: a generated system prompt (what inloop is, the tools, the run in focus), the
// question, then model turns; each tool call the model makes is run in order through the
// ToolRegistry and its result sent back as a `tool` message, until the model answers without tool
// calls or a bound is hit (tool calls per question; tokens per question when the server reports
// usage). Answer text is handed to a callback as it streams. The whole exchange is stored as an
// `assistant_transcript` event: on the run in focus, or with an empty run id (a store-wide event)
// when the question has none. The key is never stored; the endpoint is stored as its host.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "assist/chat_client.h"
#include "assist/tools.h"
#include "common/status.h"
#include "store/store.h"

namespace inloop::assist {

struct AskOptions {
  Endpoint endpoint;
  std::string focus_run;          // --run: id, id prefix or name; empty: none
  int max_tool_calls = 8;         // per question
  int max_tokens = 1024;          // per completion
  int64_t token_budget = 60000;   // per question, over usage.total_tokens (when reported)
};

enum class StopReason { kAnswered, kToolCallBound, kTokenBudget, kError };
const char* StopReasonName(StopReason r);  // "answered", "tool_call_bound", ...

struct ToolCallRecord {
  std::string id, name, arguments;
  bool ok = false;
  std::string error;
  int64_t result_bytes = 0;
  bool truncated = false;
};

struct AskResult {
  std::string answer;  // the last completion's text
  std::string finish_reason;
  StopReason stop = StopReason::kAnswered;
  std::string stop_message;  // one line when stop != kAnswered, or a note (answer cut)
  ChatError error;           // when stop == kError
  std::vector<ToolCallRecord> calls;
  std::vector<ChatMessage> messages;  // the whole conversation, system prompt first
  Usage usage;                        // summed over completions; reported if any reported
  int completions = 0;
  int requests = 0;  // HTTP requests, retries included
  int retries = 0;
  std::vector<int64_t> proposed_action_ids;
  std::string focus_run_id;
  int64_t transcript_event_id = 0;
  Status transcript_status;  // not OK when the transcript could not be stored
};

class Assistant {
 public:
  // `tools` and `store` must outlive the Assistant.
  Assistant(AskOptions opts, store::Store* store, const ToolRegistry* tools);

  // Resolves the run in focus; NotFound when --run names no run.
  Status Prepare();
  // The system prompt, from the store and the tools as they are now.
  std::string SystemPrompt() const;
  // Asks; on_text receives answer text as it streams (also text the model writes before tool
  // calls). Never fails as a whole: problems are in result->stop / error. Stores the transcript.
  void Ask(const std::string& question, const StreamAccumulator::OnContent& on_text,
           AskResult* result);

 private:
  void StoreTranscript(const std::string& question, AskResult* r);

  AskOptions opts_;
  store::Store* store_;
  const ToolRegistry* tools_;
  store::RunRecord focus_;
};

}  // namespace inloop::assist
