// `inloop logs` (verbs.h).
#include <fmt/format.h>

#include <limits>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/json_writer.h"
#include "store/store.h"

namespace inloop::cli {

int CmdLogs(const LogsArgs& a) {
  if (a.from < 1)
    return Fail(Status::Invalid(fmt::format("--from {}: lines count from 1", a.from)));
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(a.store_dir, &st);
  store::RunRecord r;
  if (s.ok()) s = st->FindRun(a.run_ref, &r);
  if (!s.ok()) return Fail(s);
  store::LogLinesQuery q;
  q.run_id = r.id;
  q.attempt = a.attempt;
  q.stream = a.stderr_stream ? store::LogStream::kStderr : store::LogStream::kStdout;
  q.tail = a.tail;
  q.first_line = a.from - 1;
  q.max_lines = a.count.value_or(std::numeric_limits<int64_t>::max());
  store::LogLines out;
  s = st->ReadAttemptLog(q, &out);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("run").String(r.id).Key("attempt").Int(out.attempt);
    w.Key("stream").String(store::LogStreamName(q.stream));
    w.Key("first_line").Int(out.first_line + 1).Key("total_lines").Int(out.info.lines);
    w.Key("compressed").Bool(out.info.compressed).Key("raw_bytes").Int(out.info.raw_bytes);
    w.Key("file_bytes").Int(out.info.file_bytes).Key("lines").BeginArray();
    for (auto& l : out.lines) w.String(l);
    w.EndArray().EndObject();
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  std::string text;
  for (auto& l : out.lines) {
    text += l;
    text += '\n';
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace inloop::cli
