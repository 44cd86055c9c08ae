// GET /api/v1/runs/{id}/logs (log_api.h).
#include "http/log_api.h"

#include <limits>

#include <fmt/format.h>

#include "common/json_writer.h"

namespace inloop::http {

HttpResponse RunLogs(store::Store* st, const std::string& ref, const HttpRequest& r) {
  std::optional<int64_t> attempt, tail, from, count;
  Status s = IntParam(r, "attempt", 1, 1 << 30, &attempt);
  if (s.ok()) s = IntParam(r, "tail", 0, kMaxLogLines, &tail);
  if (s.ok()) s = IntParam(r, "from", 1, std::numeric_limits<int64_t>::max(), &from);
  if (s.ok()) s = IntParam(r, "count", 0, kMaxLogLines, &count);
  if (!s.ok()) return ErrorFor(s);
  std::string stream = r.Param("stream") ? *r.Param("stream") : "stdout";
  if (stream != "stdout" && stream != "stderr") {
    return JsonError(400, fmt::format("stream: '{}' is not stdout or stderr", stream.substr(0, 40)));
  }
  if (tail && (from || count)) {
    return JsonError(400, "tail: give either tail or from/count, not both");
  }
  store::RunRecord rec;
  s = st->FindRun(ref, &rec);
  if (!s.ok()) return ErrorFor(s);
  store::LogLinesQuery q;
  q.run_id = rec.id;
  q.attempt = static_cast<int>(attempt.value_or(0));
  q.stream = stream == "stdout" ? store::LogStream::kStdout : store::LogStream::kStderr;
  q.tail = tail;
  q.first_line = from.value_or(1) - 1;
  q.max_lines = count.value_or(1000);
  store::LogLines out;
  s = st->ReadAttemptLog(q, &out);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  w.BeginObject().Key("run").String(rec.id).Key("attempt").Int(out.attempt);
  w.Key("stream").String(stream).Key("first_line").Int(out.first_line + 1);
  w.Key("total_lines").Int(out.info.lines).Key("compressed").Bool(out.info.compressed);
  w.Key("lines").BeginArray();
  for (auto& l : out.lines) w.String(l);
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

}  // namespace inloop::http
