// `inloop report`: a run's report as Markdown, HTML or JSON, to stdout or a file.
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/file_io.h"
#include "common/json_writer.h"
#include "report/render_html.h"
#include "report/render_markdown.h"
#include "report/run_report.h"

namespace inloop::cli {

int CmdReport(const ReportArgs& a) {
  if (a.format != "md" && a.format != "html")
    return Fail(Status::Invalid(fmt::format("--format {}: use md or html", a.format)));
  if (a.no_baseline && !a.baseline.empty())
    return Fail(Status::Invalid("--baseline and --no-baseline: give one of them"));
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(ResolveStore(a.store_dir), &st);
  if (!s.ok()) return Fail(s);
  report::ReportOptions opts;
  opts.run = a.run;
  opts.baseline = a.baseline;
  opts.auto_baseline = !a.no_baseline;
  opts.key = a.key;
  report::RunReport r;
  if (!(s = report::BuildRunReport(st.get(), opts, &r)).ok()) return Fail(s);
  std::string text;
  if (a.json) {
    JsonWriter w;
    report::WriteReportJson(r, &w);
    text = w.Take();
    text += '\n';
  } else if (a.format == "html") {
    text = report::RenderHtml(r);
  } else {
    text = report::RenderMarkdown(r);
  }
  if (a.out.empty()) {
    fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  if (!(s = WriteFileAtomically(a.out, text)).ok()) return Fail(s);
  fmt::print(stderr, "wrote {} ({} bytes)\n", a.out, text.size());
  return kExitOk;
}

}  // namespace inloop::cli
