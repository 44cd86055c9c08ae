// The hidden `loop-slot` verb: runs one slot's task and exits; its progress lines go to stderr
// like the loop's own.
#include "cli/loop_slot_cmd.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "common/file_io.h"
#include "common/json_writer.h"
#include "loop/git_repo.h"
#include "loop/loop_runner.h"
#include "loop/parallel_slot.h"
#include "supervise/run_context.h"

namespace inloop::cli {

void AddLoopSlotVerb(CLI::App& app, VerbTable* verbs) {
  auto request = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("loop-slot", "internal: one slot of `inloop loop run --parallel`");
  cmd->group("");  // hidden from --help
  cmd->add_option("request", *request, "the slot's request file")->required();
  verbs->Add(cmd, [request]() {
    Status s = loop::RunSlotTask(*request, [](const std::string& line) {
      fmt::print(stderr, "inloop loop: {}\n", line);
    });
    if (!s.ok()) {
      fmt::print(stderr, "inloop: error: loop slot: {}\n", s.message());
      return kExitUsage;
    }
    return kExitOk;
  });
}

namespace {

struct SlotSubmitArgs {
  std::string diff;
  std::string branch;
  std::string store;  // accepted for symmetry with the other loop verbs; the loop's own is used
  bool json = false;
};

int ExitFor(const Status& s, loop::LoopFailure why) {
  switch (why) {
    case loop::LoopFailure::kNoLoop: return kExitLoopNone;
    case loop::LoopFailure::kDirtyTree: return kExitLoopDirtyTree;
    case loop::LoopFailure::kGit: return kExitLoopGit;
    case loop::LoopFailure::kInterrupted: return kExitLoopInterrupted;
    case loop::LoopFailure::kNeedsApproval: return kExitLoopNeedsApproval;
    case loop::LoopFailure::kBaselineFailed: return kExitLoopBaselineFailed;
    case loop::LoopFailure::kBusy: return kExitLoopBusy;
    case loop::LoopFailure::kNone: break;
  }
  return ExitCodeFor(s);
}

void Opt(JsonWriter& w, const char* key, const std::optional<double>& v) {
  w.Key(key);
  if (v) w.Number(*v); else w.Null();
}

// The branch's change since it left the loop's branch, as a diff file.
Status BranchPatch(const std::string& branch, std::string* path) {
  if (branch.empty() || branch[0] == '-') {
    return Status::Invalid("--branch: give a branch name (not an option)");
  }
  loop::GitRepo repo;
  INLOOP_RETURN_IF_ERROR(loop::GitRepo::Open(supervise::CurrentDir(), &repo));
  std::string loop_branch, base, diff;
  INLOOP_RETURN_IF_ERROR(repo.CurrentBranch(&loop_branch));
  Status s = repo.Git({"rev-parse", "--verify", "--quiet", branch + "^{commit}"});
  if (!s.ok()) return Status::NotFound(fmt::format("--branch {}: no such branch or commit", branch));
  INLOOP_RETURN_IF_ERROR(repo.Git({"merge-base", "HEAD", branch}, &base));
  while (!base.empty() && (base.back() == '\n' || base.back() == ' ')) base.pop_back();
  INLOOP_RETURN_IF_ERROR(repo.Git({"diff", "--binary", base, branch, "--"}, &diff));
  if (diff.empty()) return Status::Invalid(fmt::format("--branch {}: no change since it left {}",
                                                       branch, loop_branch));
  char tmpl[] = "/tmp/inloop-submit-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) return Status::Io("cannot create a temporary file for the branch's diff");
  ::close(fd);
  *path = tmpl;
  return WriteFileAtomically(*path, diff);
}

int Submit(const SlotSubmitArgs& a) {
  if (a.diff.empty() == a.branch.empty()) {
    fmt::print(stderr, "inloop: error: give exactly one change: --diff FILE or --branch NAME\n");
    return kExitUsage;
  }
  loop::RunOptions o;
  o.cwd = supervise::CurrentDir();
  o.rounds = 1;
  std::string temp;
  if (!a.branch.empty()) {
    Status s = BranchPatch(a.branch, &temp);
    if (!s.ok()) {
      fmt::print(stderr, "inloop: error: {}\n", s.message());
      return ExitCodeFor(s);
    }
    o.submit_patch = temp;
  } else {
    std::error_code ec;
    o.submit_patch = std::filesystem::absolute(a.diff, ec).string();
    if (!std::filesystem::is_regular_file(o.submit_patch, ec)) {
      fmt::print(stderr, "inloop: error: --diff {}: no such file\n", a.diff);
      return kExitNotFound;
    }
  }
  o.say = [](const std::string& line) { fmt::print(stderr, "inloop loop: {}\n", line); };
  loop::RunSummary sum;
  loop::LoopFailure why = loop::LoopFailure::kNone;
  Status s = loop::RunLoop(o, &sum, &why);
  if (!temp.empty()) ::unlink(temp.c_str());
  const loop::RoundRecord* r = nullptr;
  for (auto& x : sum.rounds) {
    if (x.proposer == "submitted") r = &x;
  }
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("ok").Bool(s.ok() && r != nullptr);
    if (!s.ok()) w.Key("error").String(s.message());
    if (r) {
      w.Key("round").Int(r->round).Key("verdict").String(r->verdict).Key("reason").String(r->reason);
      Opt(w, "metric", r->metric);
      Opt(w, "champion_metric", r->champion_metric);
      Opt(w, "gain", r->gain);
      Opt(w, "noise_sd", r->noise_sd);
      Opt(w, "threshold", r->threshold);
      Opt(w, "p_value", r->p_value);
      w.Key("seeds").Int(static_cast<int64_t>(r->samples.size()));
      w.Key("commit").String(r->commit).Key("record");
      loop::WriteRoundJson(*r, &w);
    }
    w.EndObject();
    fmt::print("{}\n", w.str());
  } else if (r) {
    fmt::print("round {}: {}: {}\n", r->round, r->verdict, r->reason);
  }
  if (!s.ok()) {
    fmt::print(stderr, "inloop: error: {}\n", s.message());
    return ExitFor(s, why);
  }
  if (!r) {
    fmt::print(stderr, "inloop: error: the submitted round did not run (stopped before it)\n");
    return kExitLoopInterrupted;
  }
  return kExitOk;
}

}  // namespace

void AddLoopSubmitVerb(CLI::App& app, VerbTable* verbs) {
  CLI::App* loop_cmd = app.get_subcommand("loop");
  auto args = std::make_shared<SlotSubmitArgs>();
  auto* cmd = loop_cmd->add_subcommand(
      "submit", "one round of this loop whose change is --diff FILE or --branch NAME: the gate's "
                "verdict with gain, noise, seeds and p-value");
  cmd->add_option("--diff", args->diff, "a diff (git apply) against the champion");
  cmd->add_option("--branch", args->branch, "a branch: its change since it left the loop's branch");
  cmd->add_option("--store", args->store, "store directory (the loop's own is used)");
  cmd->add_flag("--json", args->json, "JSON output");
  verbs->Add(cmd, [args]() { return Submit(*args); });
}

}  // namespace inloop::cli
