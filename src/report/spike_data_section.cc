// Gathering and rendering the "Data behind the spike" section.
#include "report/spike_data_section.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "data/batch_index.h"
#include "data/data_read.h"
#include "common/json_writer.h"
#include "report/render_html.h"
#include "report/render_markdown.h"

namespace inloop::report {
namespace {

std::string IndexText(const data::IdRanges& r) {
  std::string s;
  for (auto& [lo, hi] : r) {
    s += s.empty() ? "" : ", ";
    s += hi - lo == 1 ? fmt::format("{}", lo) : fmt::format("{}-{}", lo, hi - 1);
  }
  return s.empty() ? "-" : s;
}

std::string Headline(const data::SpikeData& d) {
  std::string s = fmt::format("Skipped data indices {} read {} records of {} ({}); the run's {} other "
                              "batches read {}", IndexText(d.data_indices), d.window_records,
                              d.dataset.empty() ? d.path : d.dataset, d.path, d.normal_batches,
                              d.normal_records);
  if (d.error.empty()) s += fmt::format(", {} of them checked for comparison", d.normal_analysed);
  return s + ".";
}

// Why the record numbers the run logged no longer name the same records ("" when they still do):
// the pipeline's version of the file (the manifest under the run's directory) differs, or (no
// version known) its size does.
std::string ChangedSince(const data::DataRead& then, const std::string& cwd) {
  struct stat sb;
  if (::stat(then.path.c_str(), &sb) != 0) return "";  // AnalyzeSpikeData says it is gone
  data::DataRead now = data::DescribeDataset(then.name, then.path, cwd);
  if (!then.sha256.empty() && !now.sha256.empty()) {
    if (then.sha256 == now.sha256) return "";
    return fmt::format("the dataset changed since the run read it (version {} then, {} now): its record "
                       "numbers no longer name the same records", then.sha256.substr(0, 12),
                       now.sha256.substr(0, 12));
  }
  if (then.size >= 0 && then.size != static_cast<int64_t>(sb.st_size)) {
    return fmt::format("the dataset changed since the run read it ({} bytes then, {} now): its record "
                       "numbers no longer name the same records", then.size, static_cast<int64_t>(sb.st_size));
  }
  return "";
}

}  // namespace

std::vector<std::pair<int64_t, int64_t>> AppliedSkipWindows(const RunReport& r) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (auto& f : r.remedies) {  // in action order
    if (f.skip && (f.next_attempt > 0 || f.in_process)) out.push_back(*f.skip);
  }
  return out;
}

void GatherSpikeData(RunReport* r, const std::vector<store::EventRecord>& events) {
  auto windows = AppliedSkipWindows(*r);
  if (windows.empty()) return;
  std::vector<data::BatchLog> logs;
  std::map<std::string, data::DataRead> reads;  // by path: the version the run read
  for (auto& e : events) {
    data::BatchLog b;
    data::DataRead d;
    if (e.kind == data::kDataBatchesEvent && data::ParseBatchLog(e.data_json, &b)) logs.push_back(std::move(b));
    if (e.kind == data::kDataReadEvent && data::ParseDataRead(e.data_json, &d)) reads.emplace(d.path, d);
  }
  if (logs.empty()) return;
  data::IdRanges skipped = data::SkippedDataRanges(windows);
  for (auto& split : data::SplitRecords(logs, skipped)) {
    if (split.path.empty()) continue;  // batches of a dataset the script never declared
    if (split.window_batches == 0) {
      data::SpikeData d;
      d.dataset = split.dataset;
      d.path = split.path;
      d.normal_batches = split.normal_batches;
      d.error = fmt::format("no batch of the skipped data indices {} was recorded (inloop.batch "
                            "was not called for them)", IndexText(skipped));
      r->spike_data.push_back(std::move(d));
      continue;
    }
    if (auto it = reads.find(split.path); it != reads.end()) {
      std::string why = ChangedSince(it->second, r->run.cwd);
      if (!why.empty()) {
        data::SpikeData d;
        d.dataset = split.dataset;
        d.path = split.path;
        d.data_indices = split.window_indices;
        d.window = split.window;
        d.window_batches = split.window_batches;
        d.normal_batches = split.normal_batches;
        d.window_records = data::CountIds(split.window);
        d.normal_records = data::CountIds(split.normal);
        d.error = why;
        r->spike_data.push_back(std::move(d));
        continue;
      }
    }
    r->spike_data.push_back(data::AnalyzeSpikeData(split));
  }
}

std::string SpikeDataMarkdown(const RunReport& r) {
  if (r.spike_data.empty()) return "";
  std::string o = "## Data behind the spike\n\n";
  for (auto& d : r.spike_data) {
    o += MarkdownCell(Headline(d), std::string::npos) + "\n\n";
    if (!d.error.empty()) {
      o += "Not analysed: " + MarkdownCell(d.error, std::string::npos) + "\n\n";
      continue;
    }
    o += "**" + MarkdownCell(d.summary, std::string::npos) + "**\n\n";
    o += "| measure | skipped window | normal batches | stands out | detail |\n|---|---|---|---|---|\n";
    for (auto& m : d.measures) {
      o += fmt::format("| {} | {} | {} | {} | {} |\n", m.name, fmt::format("{:.3g}", m.window), fmt::format("{:.3g}", m.normal),
                       m.stands_out ? "**yes**" : "no", MarkdownCell(m.text));
    }
    o += fmt::format("\nThe window's records are lines {} of {}.", MarkdownCell(data::LineRangesText(d.window), 400),
                     MarkdownCell(d.path));
    if (!d.flagged.empty()) {
      o += fmt::format(" Flagged ({}): lines {}; `inloop data quarantine --from-run {}` drops them "
                       "from the next version.", d.flagged.size(),
                       MarkdownCell(data::LineRangesText(d.flagged), 400), r.run.id);
    }
    o += "\n\n";
  }
  return o;
}

std::string SpikeDataHtml(const RunReport& r) {
  if (r.spike_data.empty()) return "";
  std::string o = "<h2>Data behind the spike</h2>\n";
  for (auto& d : r.spike_data) {
    o += "<p>" + HtmlEscape(Headline(d)) + "</p>\n";
    if (!d.error.empty()) {
      o += "<p>Not analysed: " + HtmlEscape(d.error) + "</p>\n";
      continue;
    }
    o += "<p><b>" + HtmlEscape(d.summary) + "</b></p>\n<table>\n<tr><th>measure</th><th>skipped window</th>"
         "<th>normal batches</th><th>stands out</th><th>detail</th></tr>\n";
    for (auto& m : d.measures) {
      o += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>\n",
                       HtmlEscape(m.name), fmt::format("{:.3g}", m.window), fmt::format("{:.3g}", m.normal),
                       m.stands_out ? "<b>yes</b>" : "no", HtmlEscape(m.text));
    }
    o += "</table>\n";
    o += fmt::format("<p>The window's records are lines {} of {}.", HtmlEscape(data::LineRangesText(d.window)),
                     HtmlEscape(d.path));
    if (!d.flagged.empty()) {
      o += fmt::format(" Flagged ({}): lines {}; <code>inloop data quarantine --from-run {}</code> drops "
                       "them from the next version.", d.flagged.size(),
                       HtmlEscape(data::LineRangesText(d.flagged)), HtmlEscape(r.run.id));
    }
    o += "</p>\n";
  }
  return o;
}

}  // namespace inloop::report
