#include "importers/import_writer.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <span>

#include <fmt/format.h>

#include "common/json_writer.h"

namespace inloop::importers {
namespace {

double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

RunSink::RunSink(store::Store* st, size_t limit, std::function<void(int64_t)> on_points)
    : st_(st),
      limit_(std::max<size_t>(limit, 1)),
      on_points_(std::move(on_points)),
      lo_(std::numeric_limits<double>::infinity()) {}

void RunSink::Take(const ImportedRun& run, size_t buffered) {
  peak_buffered_ = std::max(peak_buffered_, static_cast<int64_t>(buffered));
  if (!status_.ok()) return;  // the first error stands; Finish reports it
  if (!writer_) status_ = Start(run);
  if (status_.ok()) status_ = Write(run);
  if (on_points_) on_points_(points_);
}

// The run as far as it is known before its last point: Finish sets its name, dates and status.
Status RunSink::Start(const ImportedRun& run) {
  record_.name = run.name.empty() ? "import" : run.name;
  record_.status = store::kFinished;
  record_.command = {"inloop", "import", run.source};
  record_.host = run.host;
  std::error_code ec;
  record_.cwd = std::filesystem::current_path(ec).string();
  record_.started_at = run.started_at > 0 ? run.started_at : NowSeconds();
  record_.attempts = 0;
  INLOOP_RETURN_IF_ERROR(st_->CreateRun(&record_));
  INLOOP_RETURN_IF_ERROR(st_->OpenWriter(record_.id, &writer_));
  bulk_ = store::BulkOf(writer_.get());
  return Status::OK();
}

Status RunSink::Write(const ImportedRun& run) {
  if (handles_.size() < run.series.size()) handles_.resize(run.series.size(), -1);
  for (size_t i = 0; i < run.series.size(); ++i) {
    const std::vector<Point>& pts = run.series[i].points;
    if (pts.empty()) continue;
    for (const Point& p : pts)
      if (std::isfinite(p.wall_time) && p.wall_time > 0) {
        lo_ = std::min(lo_, p.wall_time);
        hi_ = std::max(hi_, p.wall_time);
      }
    if (bulk_ == nullptr) {  // a writer without the bulk side: one point at a time
      for (const Point& p : pts)
        INLOOP_RETURN_IF_ERROR(writer_->Append(run.series[i].key, p.step, p.wall_time, p.value));
    } else {
      if (handles_[i] < 0) INLOOP_RETURN_IF_ERROR(bulk_->ResolveSeries(run.series[i].key, &handles_[i]));
      INLOOP_RETURN_IF_ERROR(bulk_->AppendPoints(handles_[i], std::span<const Point>(pts)));
    }
    points_ += static_cast<int64_t>(pts.size());
  }
  return Status::OK();
}

Status RunSink::Finish(const ImportedRun& r, const std::string& name, const ImportOptions& opts,
                       const std::string& content_key, ImportedRunResult* res) {
  INLOOP_RETURN_IF_ERROR(status_);
  if (!writer_) INLOOP_RETURN_IF_ERROR(Start(r));
  INLOOP_RETURN_IF_ERROR(Write(r));  // the points the reader still holds
  INLOOP_RETURN_IF_ERROR(writer_->Close());
  if (on_points_) on_points_(points_);

  store::RunRecord& run = record_;
  run.name = name;
  run.status = r.status.empty() ? store::kFinished : r.status;
  run.host = r.host;
  if (r.started_at > 0) {  // the source dates the run (MLflow's meta.yaml, W&B's run record)
    run.started_at = r.started_at;
    run.ended_at =
        r.ended_at > 0 ? r.ended_at : std::max(r.started_at, std::isfinite(lo_) ? hi_ : 0);
  } else if (std::isfinite(lo_)) {
    run.started_at = lo_;
    run.ended_at = hi_;
  } else {
    // No wall times in the file: the run is dated by the file, so it sorts where it belongs.
    struct stat sb;
    double when = NowSeconds();
    if (stat(r.source.c_str(), &sb) == 0)
      when = static_cast<double>(sb.st_mtim.tv_sec) + sb.st_mtim.tv_nsec * 1e-9;
    run.started_at = run.ended_at = when;
  }
  INLOOP_RETURN_IF_ERROR(st_->UpdateRun(run));
  std::vector<store::Param> params = r.params;
  for (auto& p : params) p.source = "import";
  params.push_back(store::Param{"import/format", r.format, "import"});
  params.push_back(store::Param{"import/source", r.source, "import"});
  INLOOP_RETURN_IF_ERROR(st_->SetParams(run.id, params));
  std::vector<std::string> tags = r.tags;
  tags.insert(tags.end(), opts.tags.begin(), opts.tags.end());
  INLOOP_RETURN_IF_ERROR(st_->AddTags(run.id, tags));

  int64_t n = points_;
  store::EventRecord ev;
  ev.run_id = run.id;
  ev.time = NowSeconds();
  ev.kind = "import";
  ev.severity = "info";
  ev.message = fmt::format("imported {} points in {} series from {} ({})", n, r.series.size(),
                           r.source, r.format);
  JsonWriter jw;
  jw.BeginObject().Key("format").String(r.format).Key("source").String(r.source);
  jw.Key("points").Int(n).Key("series").Int(static_cast<int64_t>(r.series.size()));
  jw.Key("content_key").String(content_key).EndObject();
  ev.data_json = jw.Take();
  INLOOP_RETURN_IF_ERROR(st_->AddEvent(&ev));
  // Recorded last: a run cut short by a crash is not taken for a finished import next time.
  INLOOP_RETURN_IF_ERROR(st_->RecordImport(content_key, run.id, r.source, r.format));

  res->run_id = run.id;
  res->name = name;
  res->points = n;
  res->series = static_cast<int64_t>(r.series.size());
  return Status::OK();
}

void RunSink::Abandon(const Status& why) {
  if (!writer_) return;
  writer_->Close();  // keep what was written; the event says it is incomplete
  record_.status = store::kFailed;
  record_.ended_at = NowSeconds();
  st_->UpdateRun(record_);
  store::EventRecord ev;
  ev.run_id = record_.id;
  ev.time = NowSeconds();
  ev.kind = "import";
  ev.severity = "error";
  ev.message = fmt::format("import stopped after {} points: {}", points_, why.message());
  st_->AddEvent(&ev);
}

}  // namespace inloop::importers
