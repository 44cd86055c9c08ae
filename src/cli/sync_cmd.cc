// `inloop sync`: every run of a local store (or the ones named) replicated to a server by
// sync::RunReplicator, --jobs runs at a time, each worker with its own Store and connection.
// Incremental: the server's marks say what it holds, so a run already complete there costs one
// small request and sends nothing. Safe to interrupt and rerun at any time.
#include "cli/sync_cmd.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "common/json_writer.h"
#include "sync/origin.h"
#include "sync/replicator.h"

namespace inloop::cli {
namespace {

struct SyncArgs {
  std::string store;
  std::string url;
  std::string token;
  std::vector<std::string> runs;
  int jobs = 4;
  double retry_s = 30;
  bool json = false;
};

struct RunResult {
  RunResult(std::string i, std::string n) : id(std::move(i)), name(std::move(n)) {}
  std::string id;
  std::string name;
  sync::RunProgress progress;
  sync::PassOutcome outcome = sync::PassOutcome::kCaughtUp;
  std::string error;
};

// Uploads one run, retrying an unreachable server with backoff for up to retry_s.
void SyncOne(store::Store* st, sync::Transport* t, const std::string& origin, double retry_s,
             RunResult* r) {
  sync::RunReplicator rep(st, t, origin, r->id);
  sync::Backoff backoff(0.5, 10);
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> draw(0, 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(retry_s);
  for (;;) {
    Status err;
    r->outcome = rep.Pass(&err);
    r->progress = rep.progress();
    r->error = err.ok() ? "" : err.message();
    if (r->outcome != sync::PassOutcome::kUnreachable) return;
    double wait = backoff.Next(draw(rng));
    if (std::chrono::steady_clock::now() + std::chrono::duration<double>(wait) > deadline) return;
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
}

std::string StateOf(const RunResult& r) {
  if (r.outcome == sync::PassOutcome::kUnreachable) return "unreachable";
  if (r.outcome == sync::PassOutcome::kRefused) return "refused";
  return r.progress.complete ? "complete" : "partial";
}

void PrintJson(const SyncArgs& a, const std::vector<RunResult>& results) {
  JsonWriter w;
  int64_t points = 0, events = 0;
  w.BeginObject().Key("url").String(a.url).Key("runs").BeginArray();
  for (auto& r : results) {
    points += r.progress.points_sent;
    events += r.progress.events_sent;
    w.BeginObject().Key("id").String(r.id).Key("name").String(r.name);
    w.Key("server_id").String(r.progress.server_run_id).Key("state").String(StateOf(r));
    w.Key("points_sent").Int(r.progress.points_sent);
    w.Key("events_sent").Int(r.progress.events_sent);
    w.Key("points_local").Int(r.progress.points_local);
    w.Key("points_server").Int(r.progress.points_server);
    w.Key("events_local").Int(r.progress.events_local);
    w.Key("events_server").Int(r.progress.events_server);
    w.Key("error").String(r.error).EndObject();
  }
  w.EndArray().Key("points_sent").Int(points).Key("events_sent").Int(events).EndObject();
  fmt::print("{}\n", w.str());
}

void PrintText(const SyncArgs& a, const std::vector<RunResult>& results) {
  int64_t points = 0, events = 0;
  for (auto& r : results) {
    const auto& p = r.progress;
    points += p.points_sent;
    events += p.events_sent;
    std::string what = p.points_sent || p.events_sent
                           ? fmt::format("sent {} points, {} events", p.points_sent, p.events_sent)
                           : std::string("nothing to send");
    std::string state = StateOf(r);
    if (!r.error.empty()) state += ": " + r.error;
    fmt::print("{:<24} {:<22} {}; {}\n", r.name.substr(0, 24), r.id, what, state);
  }
  fmt::print("{} runs to {}: {} points, {} events sent\n", results.size(), a.url, points, events);
}

int CmdSync(const SyncArgs& a) {
  if (!a.url.starts_with("http://") && !a.url.starts_with("https://")) {
    fmt::print(stderr, "inloop: error: sync: the server URL must start with http:// or https:// "
                       "(got '{}')\n", a.url.substr(0, 200));
    return kExitUsage;
  }
  std::string token = a.token;
  if (const char* env = std::getenv("INLOOP_TOKEN"); token.empty() && env) token = env;
  std::string dir = ResolveStore(a.store);
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(dir, &st);
  std::string origin;
  if (s.ok()) s = sync::LoadOrCreateOrigin(dir, &origin);
  std::vector<RunResult> results;
  if (s.ok() && a.runs.empty()) {
    std::vector<store::RunRecord> runs;
    s = st->ListRuns(&runs);
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) results.emplace_back(it->id, it->name);
  }
  for (size_t i = 0; s.ok() && i < a.runs.size(); ++i) {
    store::RunRecord r;
    s = st->FindRun(a.runs[i], &r);
    if (s.ok()) results.emplace_back(r.id, r.name);
  }
  if (!s.ok()) return Fail(s);
  st.reset();

  std::atomic<size_t> next{0}, done{0};
  std::mutex open_mu;
  Status open_error;
  auto worker = [&] {
    std::unique_ptr<store::Store> mine;
    Status os = store::Store::Open(dir, false, &mine);
    if (!os.ok()) {
      std::lock_guard<std::mutex> lock(open_mu);
      open_error = os;
      return;
    }
    sync::HttpTransport transport(a.url, token);
    for (size_t i; (i = next++) < results.size();) {
      SyncOne(mine.get(), &transport, origin, a.retry_s, &results[i]);
      ++done;
    }
  };
  size_t jobs = std::clamp<size_t>(static_cast<size_t>(std::max(1, a.jobs)), 1, 64);
  jobs = std::min(jobs, std::max<size_t>(1, results.size()));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs; ++i) threads.emplace_back(worker);
  bool tty = !a.json && ::isatty(2);
  while (tty && done < results.size() && open_error.ok()) {
    fmt::print(stderr, "\rinloop sync: {}/{} runs", done.load(), results.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& t : threads) t.join();
  if (tty) fmt::print(stderr, "\r\033[K");
  if (!open_error.ok()) return Fail(open_error);

  if (a.json) {
    PrintJson(a, results);
  } else {
    PrintText(a, results);
  }
  int rc = kExitOk;
  for (auto& r : results) {
    if (r.outcome == sync::PassOutcome::kRefused) rc = kExitSyncRefused;
    if (r.outcome == sync::PassOutcome::kUnreachable && rc == kExitOk) rc = kExitSyncUnreachable;
  }
  return rc;
}

}  // namespace

void AddSyncVerb(CLI::App& app, VerbTable* verbs) {
  auto args = std::make_shared<SyncArgs>();
  auto* cmd = app.add_subcommand(
      "sync", "upload the runs of a local store to an `inloop serve` (only what it lacks)");
  cmd->add_option("--store", args->store, "store directory (default ./.inloop or $INLOOP_STORE)");
  cmd->add_option("--token", args->token,
                  "a token of the server with scope ingest (default $INLOOP_TOKEN)");
  cmd->add_option("--run", args->runs, "only these runs (id, prefix or name); repeatable");
  cmd->add_option("--jobs,-j", args->jobs, "runs uploaded at once (default 4)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--retry", args->retry_s,
                  "seconds to keep retrying an unreachable server (default 30)")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_flag("--json", args->json, "JSON output");
  cmd->add_option("url", args->url, "the server, e.g. http://host:8642")->required();
  verbs->Add(cmd, [args] { return CmdSync(*args); });
}

}  // namespace inloop::cli
