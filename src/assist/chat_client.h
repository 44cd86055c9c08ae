// ChatClient: one OpenAI-compatible chat completion (POST $base_url/chat/completions) with tools,
// streamed as server-sent events or, from servers that ignore stream=true, one JSON answer.
// Builds the request JSON, parses the SSE stream (SseParser) and folds its chunks — content
// deltas, tool-call fragments by index, finish_reason, usage — into one Completion
// (StreamAccumulator). Every failure is a ChatError with a kind the CLI maps to an exit code and a
// one-line message; the API key is sent as a bearer token and never appears in a message.
//
// The completion bound is sent as `max_tokens`, which OpenAI, vLLM, llama.cpp's server, Ollama
// and TGI all accept; when a server refuses it and names `max_completion_tokens` (OpenAI's
// reasoning models), the request is retried once with that field, and the client keeps using it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"

namespace inloop::assist {

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text as the model wrote it (may be invalid)
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool
};

// A function tool as the request declares it; `parameters` is a JSON Schema (JSON text).
struct ToolSpec {
  std::string name;
  std::string description;
  std::string parameters;
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;
  std::vector<ToolSpec> tools;
  int max_tokens = 1024;
  std::string max_tokens_field = "max_tokens";  // or "max_completion_tokens"
  bool stream = true;
};

// The messages as the request (and the stored transcript) write them.
void WriteMessagesJson(JsonWriter& w, const std::vector<ChatMessage>& messages);

// The request body: model, messages, tools (type function, strict schemas), tool_choice auto,
// stream with usage, the completion bound.
std::string BuildRequestJson(const ChatRequest& req);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  bool reported = false;
};

struct Completion {
  std::string content;
  std::vector<ToolCall> tool_calls;  // in index order
  std::string finish_reason;         // "stop", "tool_calls", "length", ...; empty if none came
  Usage usage;
  bool streamed = false;  // false: a plain JSON answer
  int64_t chunks = 0;     // SSE data events parsed
};

struct ChatError {
  enum class Kind {
    kNone,
    kBadUrl,       // INLOOP_LLM_URL is not an http(s) URL
    kUnreachable,  // connection refused, DNS, TLS
    kTimeout,      // connect or idle timeout
    kHttp,         // an error status (or an error object inside the stream)
    kRateLimited,  // 429/503 still after the retries
    kBadResponse,  // not JSON, not the chat-completions shape
    kTruncated,    // the stream ended before [DONE] or a finish_reason
  };
  Kind kind = Kind::kNone;
  std::string message;  // one line
  int http_status = 0;
  bool ok() const { return kind == Kind::kNone; }
};
const char* ChatErrorName(ChatError::Kind k);  // "unreachable", "timeout", ...

// Server-sent events (WHATWG): lines end in LF, CRLF or CR; ':' starts a comment; an empty line
// dispatches the event's data lines joined by '\n'. Bytes may arrive split anywhere. An event not
// closed by an empty line when the stream ends is dropped, as the standard says.
class SseParser {
 public:
  using OnData = std::function<void(std::string_view data)>;
  // Returns false when a line grows past the limit (a server not speaking SSE).
  bool Feed(std::string_view bytes, const OnData& on_data);
  int64_t events() const { return events_; }
  int64_t lines() const { return lines_; }

 private:
  void Line(std::string_view line, const OnData& on_data);
  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool after_cr_ = false;
  bool started_ = false;
  int64_t events_ = 0;
  int64_t lines_ = 0;
};

// Folds streamed chunks (the JSON of each data event) into a Completion.
class StreamAccumulator {
 public:
  using OnContent = std::function<void(std::string_view)>;
  explicit StreamAccumulator(OnContent on_content = nullptr) : on_content_(std::move(on_content)) {}
  // One data event's payload: a chunk, or "[DONE]". Returns false (with *err) on a chunk that is
  // not JSON, not an object, or an error object.
  bool Add(std::string_view data, ChatError* err);
  // After the stream ended: kTruncated unless [DONE] or a finish_reason arrived.
  bool Finish(Completion* out, ChatError* err);
  bool done() const { return done_; }

 private:
  OnContent on_content_;
  Completion c_;
  std::map<int64_t, ToolCall> calls_;  // by the delta's index
  int64_t last_index_ = -1;
  bool done_ = false;
};

// A non-streamed answer: {"choices":[{"message":{...},"finish_reason":...}],"usage":{...}}.
bool ParseCompletionJson(std::string_view body, Completion* out, ChatError* err);

// The message of an error body: error.message, error (a string), message or detail; else the
// start of the body on one line. Never more than 300 characters.
std::string ErrorBodyMessage(std::string_view body);

struct Endpoint {
  std::string base_url;  // as the OpenAI SDKs' base_url: https://api.openai.com/v1
  std::string model;
  std::string api_key;   // may be empty (local servers)
  double connect_timeout_s = 10;
  double idle_timeout_s = 120;
  int max_retries = 3;            // of a 429/503 answer
  double max_retry_wait_s = 60;   // a longer Retry-After fails instead of waiting
  std::function<void(double seconds)> sleep;  // default: really sleep
};

class ChatClient {
 public:
  explicit ChatClient(Endpoint e);
  // $base_url/chat/completions (one slash between them).
  std::string Url() const;
  // Sends the request (model and the bound field filled from the endpoint and what the server
  // accepted), streams content deltas to on_content, and fills *out. Retries 429/503 with
  // backoff, honouring Retry-After.
  ChatError Complete(ChatRequest req, const StreamAccumulator::OnContent& on_content,
                     Completion* out);
  int requests_sent() const { return requests_; }
  int retries() const { return retries_; }

 private:
  ChatError Once(const ChatRequest& req, const StreamAccumulator::OnContent& on_content,
                 Completion* out, double* retry_wait);
  std::string Redact(std::string s) const;
  Endpoint e_;
  std::string max_tokens_field_ = "max_tokens";
  int requests_ = 0;
  int retries_ = 0;
};

}  // namespace inloop::assist
