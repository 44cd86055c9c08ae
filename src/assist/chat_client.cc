// ChatClient implementation: request JSON with JsonWriter, responses with simdjson's DOM.
#include "assist/chat_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>

#include "assist/http_client.h"
#include "common/json_writer.h"

namespace inloop::assist {
namespace {

constexpr size_t kMaxSseLine = 16 * 1024 * 1024;
constexpr size_t kMaxJsonBody = 64 * 1024 * 1024;

// The first n characters of s on one line, for messages.
std::string Snippet(std::string_view s, size_t n = 80) {
  std::string out;
  for (char c : s.substr(0, n)) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  if (s.size() > n) out += "...";
  return out;
}

bool GetString(simdjson::dom::element e, std::string_view* out) {
  return e.get_string().get(*out) == simdjson::SUCCESS;
}

bool Field(simdjson::dom::object o, std::string_view key, simdjson::dom::element* out) {
  return o[key].get(*out) == simdjson::SUCCESS && !out->is_null();
}

void ReadUsage(simdjson::dom::object root, Usage* u) {
  simdjson::dom::element ue;
  simdjson::dom::object uo;
  if (!Field(root, "usage", &ue) || ue.get_object().get(uo) != simdjson::SUCCESS) return;
  auto num = [&](std::string_view k, int64_t* v) {
    simdjson::dom::element x;
    int64_t i = 0;
    double d = 0;
    if (!Field(uo, k, &x)) return;
    if (x.get_int64().get(i) == simdjson::SUCCESS) {
      *v = i;
    } else if (x.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d)) {
      *v = static_cast<int64_t>(d);
    }
  };
  num("prompt_tokens", &u->prompt_tokens);
  num("completion_tokens", &u->completion_tokens);
  num("total_tokens", &u->total_tokens);
  if (u->total_tokens == 0) u->total_tokens = u->prompt_tokens + u->completion_tokens;
  u->reported = true;
}

// A JSON error object inside a 200 answer ({"error": ...}): its message.
bool ErrorObject(simdjson::dom::object root, std::string* message) {
  simdjson::dom::element e;
  if (!Field(root, "error", &e)) return false;
  *message = ErrorBodyMessage(simdjson::minify(root));
  return true;
}

// Arguments as text: a string as it is; an object (some servers send one) re-serialized.
std::string ArgumentsText(simdjson::dom::element e) {
  std::string_view s;
  if (GetString(e, &s)) return std::string(s);
  return simdjson::minify(e);
}

double Now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Seconds to wait from a Retry-After value (delta-seconds or an HTTP date); -1 when unreadable.
double RetryAfterSeconds(const std::string& v) {
  if (v.empty()) return -1;
  char* end = nullptr;
  double s = std::strtod(v.c_str(), &end);
  if (end != v.c_str() && *end == '\0' && std::isfinite(s)) return std::max(0.0, s);
  time_t t = curl_getdate(v.c_str(), nullptr);
  if (t < 0) return -1;
  return std::max(0.0, static_cast<double>(t) - Now());
}

}  // namespace

const char* ChatErrorName(ChatError::Kind k) {
  switch (k) {
    case ChatError::Kind::kNone: return "none";
    case ChatError::Kind::kBadUrl: return "bad_url";
    case ChatError::Kind::kUnreachable: return "unreachable";
    case ChatError::Kind::kTimeout: return "timeout";
    case ChatError::Kind::kHttp: return "http_error";
    case ChatError::Kind::kRateLimited: return "rate_limited";
    case ChatError::Kind::kBadResponse: return "bad_response";
    case ChatError::Kind::kTruncated: return "truncated";
  }
  return "unknown";
}

// ---- request ----

void WriteMessagesJson(JsonWriter& w, const std::vector<ChatMessage>& messages) {
  w.BeginArray();
  for (auto& m : messages) {
    w.BeginObject().Key("role").String(m.role);
    if (m.role == "tool") w.Key("tool_call_id").String(m.tool_call_id);
    w.Key("content");
    if (m.role == "assistant" && m.content.empty() && !m.tool_calls.empty()) {
      w.Null();
    } else {
      w.String(m.content);
    }
    if (!m.tool_calls.empty()) {
      w.Key("tool_calls").BeginArray();
      for (auto& c : m.tool_calls) {
        w.BeginObject().Key("id").String(c.id).Key("type").String("function");
        w.Key("function").BeginObject().Key("name").String(c.name);
        w.Key("arguments").String(c.arguments).EndObject().EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
}

std::string BuildRequestJson(const ChatRequest& req) {
  JsonWriter w;
  w.BeginObject().Key("model").String(req.model);
  w.Key("messages");
  WriteMessagesJson(w, req.messages);
  if (!req.tools.empty()) {
    w.Key("tools").BeginArray();
    for (auto& t : req.tools) {
      w.BeginObject().Key("type").String("function").Key("function").BeginObject();
      w.Key("name").String(t.name).Key("description").String(t.description);
      w.Key("parameters").Raw(t.parameters).Key("strict").Bool(true);
      w.EndObject().EndObject();
    }
    w.EndArray();
    w.Key("tool_choice").String("auto");
  }
  w.Key("stream").Bool(req.stream);
  if (req.stream) w.Key("stream_options").BeginObject().Key("include_usage").Bool(true).EndObject();
  w.Key(req.max_tokens_field).Int(req.max_tokens);
  w.EndObject();
  return w.Take();
}

// ---- SSE ----

bool SseParser::Feed(std::string_view bytes, const OnData& on_data) {
  size_t i = 0;
  if (!started_ && !bytes.empty()) {
    // A UTF-8 byte order mark may open the stream (only a whole one is recognised).
    if (bytes.starts_with("\xEF\xBB\xBF")) i = 3;
    started_ = true;
  }
  for (; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the LF of a CRLF split across pieces
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      Line(line_, on_data);
      line_.clear();
      continue;
    }
    // Take the run of ordinary bytes at once.
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = bytes.size();
    line_.append(bytes.substr(i, end - i));
    if (line_.size() > kMaxSseLine) return false;
    i = end - 1;
  }
  return true;
}

void SseParser::Line(std::string_view line, const OnData& on_data) {
  ++lines_;
  if (line.empty()) {
    if (has_data_) {
      ++events_;
      std::string data = std::move(data_);
      data_.clear();
      has_data_ = false;
      if (!data.empty() && data.back() == '\n') data.pop_back();
      on_data(data);
    }
    return;
  }
  if (line.front() == ':') return;  // comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
    has_data_ = true;
  }
  // event, id, retry and unknown fields carry nothing chat completions use.
}

// ---- chunks ----

bool StreamAccumulator::Add(std::string_view data, ChatError* err) {
  c_.streamed = true;
  if (data == "[DONE]") {
    done_ = true;
    return true;
  }
  ++c_.chunks;
  simdjson::dom::parser parser;
  simdjson::padded_string padded(data);
  simdjson::dom::element root_e;
  simdjson::dom::object root;
  if (parser.parse(padded).get(root_e) != simdjson::SUCCESS ||
      root_e.get_object().get(root) != simdjson::SUCCESS) {
    err->kind = ChatError::Kind::kBadResponse;
    err->message = fmt::format("the model endpoint sent a stream chunk that is not a JSON object "
                               "(chunk {}: '{}')", c_.chunks, Snippet(data));
    return false;
  }
  std::string emsg;
  if (ErrorObject(root, &emsg)) {
    err->kind = ChatError::Kind::kHttp;
    err->message = fmt::format("the model endpoint reported an error mid-stream: {}", emsg);
    return false;
  }
  ReadUsage(root, &c_.usage);
  simdjson::dom::element ch;
  simdjson::dom::array choices;
  if (!Field(root, "choices", &ch)) return true;  // a usage-only chunk
  if (ch.get_array().get(choices) != simdjson::SUCCESS) {
    err->kind = ChatError::Kind::kBadResponse;
    err->message = fmt::format("stream chunk {}: 'choices' is not an array", c_.chunks);
    return false;
  }
  for (simdjson::dom::element choice_e : choices) {
    simdjson::dom::object choice;
    if (choice_e.get_object().get(choice) != simdjson::SUCCESS) continue;
    int64_t index = 0;
    simdjson::dom::element ie;
    if (Field(choice, "index", &ie) && ie.get_int64().get(index) != simdjson::SUCCESS) index = 0;
    if (index != 0) continue;  // n=1: only the first choice exists
    simdjson::dom::element fr;
    std::string_view reason;
    if (Field(choice, "finish_reason", &fr) && GetString(fr, &reason)) {
      c_.finish_reason = std::string(reason);
    }
    simdjson::dom::element de;
    simdjson::dom::object delta;
    if (!Field(choice, "delta", &de) || de.get_object().get(delta) != simdjson::SUCCESS) continue;
    simdjson::dom::element ce;
    std::string_view text;
    if (Field(delta, "content", &ce) && GetString(ce, &text) && !text.empty()) {
      c_.content.append(text);
      if (on_content_) on_content_(text);
    }
    simdjson::dom::element te;
    simdjson::dom::array calls;
    if (!Field(delta, "tool_calls", &te) || te.get_array().get(calls) != simdjson::SUCCESS) continue;
    for (simdjson::dom::element call_e : calls) {
      simdjson::dom::object call;
      if (call_e.get_object().get(call) != simdjson::SUCCESS) {
        err->kind = ChatError::Kind::kBadResponse;
        err->message = fmt::format("stream chunk {}: a tool_calls entry is not an object", c_.chunks);
        return false;
      }
      // Fragments of one call share its index; a server that sends no index starts a new call
      // with each id and continues the last one otherwise.
      int64_t ci = -1;
      simdjson::dom::element cie;
      std::string_view id;
      simdjson::dom::element ide;
      bool has_id = Field(call, "id", &ide) && GetString(ide, &id) && !id.empty();
      if (Field(call, "index", &cie) && cie.get_int64().get(ci) == simdjson::SUCCESS) {
      } else if (has_id || last_index_ < 0) {
        ci = last_index_ + 1;
      } else {
        ci = last_index_;
      }
      last_index_ = std::max(last_index_, ci);
      ToolCall& tc = calls_[ci];
      if (has_id && tc.id.empty()) tc.id = std::string(id);
      simdjson::dom::element fe;
      simdjson::dom::object fn;
      if (!Field(call, "function", &fe) || fe.get_object().get(fn) != simdjson::SUCCESS) continue;
      simdjson::dom::element ne, ae;
      std::string_view name;
      if (Field(fn, "name", &ne) && GetString(ne, &name)) tc.name.append(name);
      if (Field(fn, "arguments", &ae)) tc.arguments.append(ArgumentsText(ae));
    }
  }
  return true;
}

bool StreamAccumulator::Finish(Completion* out, ChatError* err) {
  c_.tool_calls.clear();
  for (auto& [index, call] : calls_) {
    c_.tool_calls.push_back(call);
    if (c_.tool_calls.back().id.empty()) c_.tool_calls.back().id = fmt::format("call_{}", index);
  }
  *out = c_;
  if (!done_ && c_.finish_reason.empty()) {
    err->kind = ChatError::Kind::kTruncated;
    err->message = fmt::format(
        "the model's stream ended before [DONE] and without a finish_reason, after {} chunk{} "
        "({} characters of answer): the connection was cut or the server stopped",
        c_.chunks, c_.chunks == 1 ? "" : "s", c_.content.size());
    return false;
  }
  return true;
}

bool ParseCompletionJson(std::string_view body, Completion* out, ChatError* err) {
  *out = Completion{};
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element root_e;
  simdjson::dom::object root;
  if (parser.parse(padded).get(root_e) != simdjson::SUCCESS ||
      root_e.get_object().get(root) != simdjson::SUCCESS) {
    err->kind = body.empty() ? ChatError::Kind::kTruncated : ChatError::Kind::kBadResponse;
    err->message = body.empty() ? "the model endpoint answered 200 with an empty body"
                                : fmt::format("the model endpoint's answer is not JSON: '{}'",
                                              Snippet(body));
    return false;
  }
  std::string emsg;
  if (ErrorObject(root, &emsg)) {
    err->kind = ChatError::Kind::kHttp;
    err->message = fmt::format("the model endpoint reported an error: {}", emsg);
    return false;
  }
  ReadUsage(root, &out->usage);
  simdjson::dom::element ch, c0, me;
  simdjson::dom::array choices;
  simdjson::dom::object choice, msg;
  if (!Field(root, "choices", &ch) || ch.get_array().get(choices) != simdjson::SUCCESS ||
      choices.size() == 0 || choices.at(0).get(c0) != simdjson::SUCCESS ||
      c0.get_object().get(choice) != simdjson::SUCCESS || !Field(choice, "message", &me) ||
      me.get_object().get(msg) != simdjson::SUCCESS) {
    err->kind = ChatError::Kind::kBadResponse;
    err->message = fmt::format("the model endpoint's answer has no choices[0].message: '{}'",
                               Snippet(body));
    return false;
  }
  simdjson::dom::element fr, ce, te;
  std::string_view s;
  if (Field(choice, "finish_reason", &fr) && GetString(fr, &s)) out->finish_reason = std::string(s);
  if (Field(msg, "content", &ce) && GetString(ce, &s)) out->content = std::string(s);
  simdjson::dom::array calls;
  if (Field(msg, "tool_calls", &te) && te.get_array().get(calls) == simdjson::SUCCESS) {
    int i = 0;
    for (simdjson::dom::element call_e : calls) {
      simdjson::dom::object call, fn;
      simdjson::dom::element x;
      ToolCall tc;
      if (call_e.get_object().get(call) == simdjson::SUCCESS) {
        if (Field(call, "id", &x) && GetString(x, &s)) tc.id = std::string(s);
        if (Field(call, "function", &x) && x.get_object().get(fn) == simdjson::SUCCESS) {
          if (Field(fn, "name", &x) && GetString(x, &s)) tc.name = std::string(s);
          if (Field(fn, "arguments", &x)) tc.arguments = ArgumentsText(x);
        }
      }
      if (tc.id.empty()) tc.id = fmt::format("call_{}", i);
      out->tool_calls.push_back(std::move(tc));
      ++i;
    }
  }
  return true;
}

std::string ErrorBodyMessage(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element root_e, e;
  simdjson::dom::object root, eo;
  std::string_view s;
  std::string msg;
  if (parser.parse(padded).get(root_e) == simdjson::SUCCESS &&
      root_e.get_object().get(root) == simdjson::SUCCESS) {
    if (Field(root, "error", &e)) {
      if (GetString(e, &s)) {
        msg = std::string(s);
      } else if (e.get_object().get(eo) == simdjson::SUCCESS) {
        simdjson::dom::element m;
        if (Field(eo, "message", &m) && GetString(m, &s)) msg = std::string(s);
      }
    }
    for (const char* k : {"message", "detail"}) {
      if (msg.empty() && Field(root, k, &e) && GetString(e, &s)) msg = std::string(s);
    }
  }
  if (msg.empty()) {
    size_t b = body.find_first_not_of(" \t\r\n");
    msg = b == std::string_view::npos ? "" : std::string(body.substr(b));
  }
  return Snippet(msg, 300);
}

// ---- client ----

ChatClient::ChatClient(Endpoint e) : e_(std::move(e)) {
  if (!e_.sleep) {
    e_.sleep = [](double s) {
      std::this_thread::sleep_for(std::chrono::duration<double>(s));
    };
  }
}

std::string ChatClient::Url() const {
  std::string base = e_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/chat/completions";
}

std::string ChatClient::Redact(std::string s) const {
  if (e_.api_key.size() < 4) return s;
  for (size_t p; (p = s.find(e_.api_key)) != std::string::npos;) {
    s.replace(p, e_.api_key.size(), "[INLOOP_LLM_KEY]");
  }
  return s;
}

ChatError ChatClient::Complete(ChatRequest req, const StreamAccumulator::OnContent& on_content,
                               Completion* out) {
  req.model = e_.model;
  bool switched_field = false;
  for (int attempt = 0;; ++attempt) {
    req.max_tokens_field = max_tokens_field_;
    double retry_wait = -1;
    ChatError err = Once(req, on_content, out, &retry_wait);
    err.message = Redact(err.message);
    if (err.ok()) return err;
    if (err.kind == ChatError::Kind::kHttp && err.http_status == 400 && !switched_field &&
        max_tokens_field_ == "max_tokens" &&
        err.message.find("max_completion_tokens") != std::string::npos) {
      max_tokens_field_ = "max_completion_tokens";
      switched_field = true;
      --attempt;  // not a retry of an overloaded server
      continue;
    }
    if (err.kind != ChatError::Kind::kRateLimited) return err;
    if (attempt >= e_.max_retries) {
      err.message = fmt::format("{} (gave up after {} retr{})", err.message, attempt,
                                attempt == 1 ? "y" : "ies");
      return err;
    }
    double wait = retry_wait >= 0 ? retry_wait : std::min(30.0, std::ldexp(1.0, attempt));
    if (wait > e_.max_retry_wait_s) {
      err.message = fmt::format("{} (the server asks to wait {:.0f} s; not waiting over {:.0f} s)",
                                err.message, wait, e_.max_retry_wait_s);
      return err;
    }
    ++retries_;
    e_.sleep(wait);
  }
}

ChatError ChatClient::Once(const ChatRequest& req, const StreamAccumulator::OnContent& on_content,
                           Completion* out, double* retry_wait) {
  ++requests_;
  *out = Completion{};
  HttpRequest hr;
  hr.url = Url();
  hr.body = BuildRequestJson(req);
  hr.headers = {"Content-Type: application/json", "Accept: text/event-stream, application/json",
                std::string("User-Agent: inloop/") + INLOOP_VERSION};
  if (!e_.api_key.empty()) hr.headers.push_back("Authorization: Bearer " + e_.api_key);
  hr.connect_timeout_s = e_.connect_timeout_s;
  hr.idle_timeout_s = e_.idle_timeout_s;

  enum class Mode { kUndecided, kSse, kJson, kGarbage } mode = Mode::kUndecided;
  SseParser sse;
  StreamAccumulator acc(on_content);
  std::string json_body, head_bytes;
  ChatError err;
  bool sse_overflow = false;
  auto sink = [&](const HttpResponse& head, std::string_view piece) -> bool {
    if (mode == Mode::kUndecided) {
      if (head.content_type == "text/event-stream") {
        mode = Mode::kSse;
      } else if (head.content_type == "application/json") {
        mode = Mode::kJson;
      } else {
        // No telling content type: look at the first byte that is not blank.
        head_bytes.append(piece);
        size_t b = head_bytes.find_first_not_of(" \t\r\n");
        if (b == std::string::npos) return true;
        char c = head_bytes[b];
        mode = c == '{' ? Mode::kJson : (c == ':' || head_bytes.compare(b, 5, "data:") == 0 ||
                                         (head_bytes.size() - b < 5 && c == 'd'))
                                            ? Mode::kSse
                                            : Mode::kGarbage;
        piece = head_bytes;
      }
    }
    switch (mode) {
      case Mode::kSse: {
        bool ok = sse.Feed(piece, [&](std::string_view data) {
          if (err.ok() && !acc.done()) acc.Add(data, &err);
        });
        if (!ok) sse_overflow = true;
        return ok && err.ok();
      }
      case Mode::kJson:
        if (json_body.size() + piece.size() > kMaxJsonBody) return false;
        json_body.append(piece);
        return true;
      default:
        json_body.append(piece.substr(0, 200));
        return false;
    }
  };
  HttpResponse resp;
  HttpResult hres = HttpPost(hr, sink, &resp);
  std::string host = UrlHost(hr.url);
  if (!err.ok()) return err;  // a bad chunk stopped the transfer
  if (mode == Mode::kGarbage) {
    err.kind = ChatError::Kind::kBadResponse;
    err.message = fmt::format("the model endpoint at {} answered{} with neither server-sent "
                              "events nor JSON: '{}'",
                              host, resp.content_type.empty() ? "" : " " + resp.content_type,
                              Snippet(json_body));
    return err;
  }
  if (sse_overflow) {
    err.kind = ChatError::Kind::kBadResponse;
    err.message = fmt::format("the model endpoint at {} sent an event-stream line over {} MiB",
                              host, kMaxSseLine >> 20);
    return err;
  }
  if (mode == Mode::kJson && hres.failure == HttpFailure::kAborted) {
    err.kind = ChatError::Kind::kBadResponse;
    err.message = fmt::format("the model endpoint's JSON answer is over {} MiB", kMaxJsonBody >> 20);
    return err;
  }
  switch (hres.failure) {
    case HttpFailure::kNone:
    case HttpFailure::kCutOff:  // a cut stream is judged below by what arrived
      break;
    case HttpFailure::kBadUrl:
      err.kind = ChatError::Kind::kBadUrl;
      err.message = fmt::format("INLOOP_LLM_URL '{}' is not usable: {}", UrlHost(e_.base_url),
                                hres.message);
      return err;
    case HttpFailure::kConnect:
      err.kind = ChatError::Kind::kUnreachable;
      err.message = fmt::format("cannot reach the model endpoint at {}: {}", host, hres.message);
      return err;
    case HttpFailure::kTimeout:
      err.kind = ChatError::Kind::kTimeout;
      err.message = fmt::format(
          "the model endpoint at {} timed out ({}): no answer within the {} s {} limit", host,
          hres.message, resp.body_bytes > 0 || resp.status ? e_.idle_timeout_s : e_.connect_timeout_s,
          resp.body_bytes > 0 || resp.status ? "idle" : "connect");
      return err;
    default:
      err.kind = ChatError::Kind::kUnreachable;
      err.message = fmt::format("the request to the model endpoint at {} failed: {}", host,
                                hres.message);
      return err;
  }
  if (resp.status < 200 || resp.status >= 300) {
    err.http_status = static_cast<int>(resp.status);
    std::string msg = ErrorBodyMessage(resp.error_body);
    err.message = fmt::format("the model endpoint at {} answered HTTP {}{}", host, resp.status,
                              msg.empty() ? "" : ": " + msg);
    if (resp.status == 429 || resp.status == 503) {
      err.kind = ChatError::Kind::kRateLimited;
      *retry_wait = RetryAfterSeconds(resp.retry_after);
    } else {
      err.kind = ChatError::Kind::kHttp;
      if (resp.status >= 300 && resp.status < 400) {
        err.message += " (a redirect: set INLOOP_LLM_URL to where it points)";
      } else if (resp.status == 404) {
        err.message += fmt::format(" (is INLOOP_LLM_URL the API's base URL? inloop posts to {})",
                                   Url());
      } else if (resp.status == 401 || resp.status == 403) {
        err.message += " (check INLOOP_LLM_KEY)";
      }
    }
    return err;
  }
  if (mode == Mode::kJson) {
    if (hres.failure == HttpFailure::kCutOff) {
      err.kind = ChatError::Kind::kTruncated;
      err.message = fmt::format("the model endpoint at {} closed the connection mid-answer ({} "
                                "bytes of JSON)", host, json_body.size());
      return err;
    }
    ParseCompletionJson(json_body, out, &err);
    if (err.ok() && on_content && !out->content.empty()) on_content(out->content);
    return err;
  }
  if (mode == Mode::kUndecided) {
    err.kind = ChatError::Kind::kTruncated;
    err.message = fmt::format("the model endpoint at {} answered HTTP {} with an empty body",
                              host, resp.status);
    return err;
  }
  if (sse.events() == 0 && !acc.done()) {
    err.kind = ChatError::Kind::kTruncated;
    err.message = fmt::format("the model endpoint at {} sent an event stream with no complete "
                              "event ({} bytes)", host, resp.body_bytes);
    return err;
  }
  acc.Finish(out, &err);
  return err;
}

}  // namespace inloop::assist
