// The upload thread of `inloop run --server` (live_upload.h). Its only output is a few lines on
// stderr: when the server becomes unreachable, when it is back, and the summary of Finish().
#include "sync/live_upload.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "supervise/run_context.h"
#include "sync/origin.h"

namespace inloop::sync {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

LiveUpload::LiveUpload(LiveUploadOptions options) : opts_(std::move(options)) {
  // Tests shorten the reconnect wait; anything unparsable or out of range is ignored.
  if (const char* env = std::getenv("INLOOP_SYNC_MAX_BACKOFF")) {
    char* end = nullptr;
    double v = std::strtod(env, &end);
    if (end != env && *end == '\0' && v >= 0.1 && v <= 300) opts_.backoff_cap_s = v;
  }
  transport_ = std::make_unique<HttpTransport>(opts_.url, opts_.token, 15);
  started_at_ = Now();
}

LiveUpload::~LiveUpload() {
  if (thread_.joinable()) Finish(0);
}

void LiveUpload::Start() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  thread_ = std::thread([this] { Loop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void LiveUpload::Say(const std::string& line) { fmt::print(stderr, "inloop: {}\n", line); }

bool LiveUpload::FindRun() {
  if (!store_) {
    Status s = store::Store::Open(opts_.store_dir, false, &store_);
    if (!s.ok()) {
      store_.reset();
      return false;  // the supervisor has not made the store yet
    }
    s = LoadOrCreateOrigin(opts_.store_dir, &origin_);
    if (!s.ok()) {
      store_.reset();  // tried again at the next poll
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = s.message();
      return false;
    }
  }
  std::string reported;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reported = reported_run_;
  }
  std::vector<store::RunRecord> runs;
  if (!opts_.continue_key.empty() && reported.empty()) {
    store::RunListQuery q;
    q.filter.params = {{"inloop.continue_key", opts_.continue_key}};
    q.filter.statuses = {store::kRunning};
    q.limit = 1;
    store::RunListPage page;
    if (store_->ListRunsPage(q, &page).ok() && !page.runs.empty()) reported = page.runs[0].id;
  }
  if (!reported.empty()) {
    replicator_ = std::make_unique<RunReplicator>(store_.get(), transport_.get(), origin_, reported);
    std::lock_guard<std::mutex> lock(mu_);
    found_run_ = true;
    return true;
  }
  if (!store_->ListRuns(&runs).ok()) return false;
  std::string host = supervise::HostName();
  for (auto& r : runs) {  // newest first
    // Ours: this process supervises it now, or it ended after this process began. Not its start
    // time: a run continued with --continue-run keeps the start of its first attempt.
    bool live_or_recent = r.status == store::kRunning || r.ended_at >= started_at_ - 5;
    if (r.supervisor_pid == ::getpid() && r.supervisor_host == host && live_or_recent) {
      replicator_ = std::make_unique<RunReplicator>(store_.get(), transport_.get(), origin_, r.id);
      std::lock_guard<std::mutex> lock(mu_);
      found_run_ = true;
      return true;
    }
  }
  return false;
}

bool LiveUpload::PassOnce() {
  Status err;
  PassOutcome o = replicator_->Pass(&err);
  std::lock_guard<std::mutex> lock(mu_);
  progress_ = replicator_->progress();
  if (o == PassOutcome::kUnreachable) {
    if (!unreachable_) {
      Say(fmt::format("server {} unreachable ({}); the run is kept in the local store and sent "
                      "when it is back",
                      opts_.url, err.message()));
    }
    unreachable_ = true;
    return false;
  }
  if (unreachable_) Say(fmt::format("server {} is back; catching up", opts_.url));
  unreachable_ = false;
  if (o == PassOutcome::kRefused) {
    if (err.message() != last_error_) Say(fmt::format("upload to {}: {}", opts_.url, err.message()));
    last_error_ = err.message();
    return false;
  }
  last_error_.clear();
  return true;
}

void LiveUpload::Loop() {
  Backoff backoff(0.5, opts_.backoff_cap_s);
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> draw(0, 1);
  for (;;) {
    bool finishing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      finishing = finishing_;
    }
    double wait = opts_.poll_s;
    if (!replicator_ && !FindRun() && finishing) {
      // The command ended without a run of ours in the store (it could not start): nothing to do.
      std::lock_guard<std::mutex> lock(mu_);
      gave_up_ = true;
      cv_.notify_all();
    } else if (replicator_) {
      if (PassOnce()) {
        backoff.Reset();
        std::lock_guard<std::mutex> lock(mu_);
        if (finishing && progress_.complete) {
          // Only a pass that began after the command ended counts: one begun before may have
          // read the final status without what the supervisor wrote after it.
          done_ = true;
          cv_.notify_all();
          wait = opts_.poll_s;
        } else if (finishing) {
          wait = 0.05;  // the run ended: what remains is sent without pausing
        }
      } else {
        wait = backoff.Next(draw(rng));
        std::lock_guard<std::mutex> lock(mu_);
        if (finishing && !unreachable_) {
          gave_up_ = true;  // the server refuses: waiting out the drain would not change that
          cv_.notify_all();
        }
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(wait),
                 [&] { return stop_ || finishing_ != finishing; });
  }
}

std::string LiveUpload::Finish(double drain_s, const std::string& run_id) {
  if (!thread_.joinable()) return "";
  std::unique_lock<std::mutex> lock(mu_);
  reported_run_ = run_id;
  finishing_ = true;
  cv_.notify_all();
  cv_.wait_for(lock, std::chrono::duration<double>(std::max(0.0, drain_s)),
               [&] { return done_ || gave_up_; });
  stop_ = true;
  cv_.notify_all();
  RunProgress p = progress_;
  bool found = found_run_;
  bool done = done_;
  bool unreachable = unreachable_;
  std::string error = last_error_;
  lock.unlock();
  thread_.join();
  if (!found) {
    return error.empty() ? "" : fmt::format("upload to {}: {}", opts_.url, error);
  }
  if (done) {
    return fmt::format("run uploaded to {} ({} points, {} events; server run {})", opts_.url,
                       p.points_server, p.events_server, p.server_run_id);
  }
  std::string why = unreachable    ? "the server is unreachable"
                    : error.empty() ? "the drain time ran out"
                                    : "the server refused it, see above";
  return fmt::format(
      "not yet on {}: {} of {} points, {} of {} events{} ({}); they are safe in {}: `inloop sync "
      "--store {} {}` uploads them",
      opts_.url, p.points_local - p.points_server, p.points_local,
      p.events_local - p.events_server, p.events_local,
      p.server_status == p.local_status ? "" : ", the final status", why, opts_.store_dir,
      opts_.store_dir, opts_.url);
}

}  // namespace inloop::sync
