// evaldiff as a tool: the headline numbers of the paired comparison and the changed ids, small
// enough for a model's context (the full report is `inloop evaldiff --json`).
#include "assist/eval_tool.h"

#include <filesystem>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "compare/eval_diff.h"

namespace inloop::assist {
namespace fs = std::filesystem;

Status ConfinedPath(const std::string& root, const std::string& path, std::string* out) {
  std::error_code ec;
  fs::path base = fs::canonical(root, ec);
  if (ec) return Status::NotFound(fmt::format("{}: the server's root is gone", root));
  fs::path p = fs::path(path).is_absolute() ? fs::path(path) : base / path;
  fs::path real = fs::canonical(p, ec);
  if (ec) return Status::NotFound(fmt::format("{}: no such file", path));
  auto rel = real.lexically_relative(base);
  if (rel.empty() || rel.native().rfind("..", 0) == 0) {
    return Status::Invalid(fmt::format("{}: outside the directory this server serves ({})", path,
                                       base.string()));
  }
  if (!fs::is_regular_file(real, ec)) return Status::Invalid(fmt::format("{}: not a file", path));
  *out = real.string();
  return Status::OK();
}

namespace {

void Arm(JsonWriter& w, const char* key, double mean, double se, int64_t n) {
  w.Key(key).BeginObject().Key("mean").Number(mean).Key("se").Number(se).Key("n").Int(n).EndObject();
}

void Ids(JsonWriter& w, const char* key, const std::vector<std::string>& ids, size_t cap) {
  w.Key(key).BeginArray();
  for (size_t i = 0; i < ids.size() && i < cap; ++i) w.String(ids[i]);
  w.EndArray();
}

}  // namespace

void RegisterEvalDiffTool(ToolRegistry* r, const std::string& root) {
  r->Register(Tool{
      "evaldiff",
      "Compare two model versions' per-example eval results (JSONL files with id and score or "
      "correct, matched by id): each version's mean with its standard error, the paired "
      "difference with a 95% bootstrap CI and a p-value (McNemar or paired t), the minimum "
      "detectable effect, per-slice differences, and the ids that regressed or improved.",
      ObjectArg("", {{"old_path", true, StringArg("the baseline's JSONL, relative to the "
                                                   "server's directory")},
                     {"new_path", true, StringArg("the candidate's JSONL")},
                     {"top", false, IntegerArg("changed ids listed per direction (default 20)", 0,
                                               200)}}),
      [root](ToolContext&, const ToolArgs& args, std::string* out) -> Status {
        std::string old_path, new_path;
        INLOOP_RETURN_IF_ERROR(ConfinedPath(root, *args.Str("old_path"), &old_path));
        INLOOP_RETURN_IF_ERROR(ConfinedPath(root, *args.Str("new_path"), &new_path));
        compare::EvalDiffOptions opts;
        opts.bootstrap = 2000;
        compare::EvalDiffReport rep;
        INLOOP_RETURN_IF_ERROR(compare::RunEvalDiff(old_path, new_path, opts, &rep));
        size_t top = static_cast<size_t>(args.Int("top").value_or(20));
        const compare::GroupStats& g = rep.overall;
        JsonWriter w;
        w.BeginObject().Key("n").Int(g.n).Key("binary").Bool(rep.binary);
        Arm(w, "old", g.old_arm.mean, g.old_arm.se, g.old_arm.n);
        Arm(w, "new", g.new_arm.mean, g.new_arm.se, g.new_arm.n);
        w.Key("diff").BeginObject().Key("mean").Number(g.diff_mean).Key("se").Number(g.diff_se);
        w.Key("ci_low").Number(g.ci_low).Key("ci_high").Number(g.ci_high);
        w.Key("p_value").Number(g.p_value).Key("test").String(g.test).Key("mde").Number(g.mde);
        w.EndObject();
        w.Key("n_regressed").Int(g.n_regressed).Key("n_improved").Int(g.n_improved);
        Ids(w, "regressed", rep.regressed, top);
        Ids(w, "improved", rep.improved, top);
        w.Key("only_old").Int(static_cast<int64_t>(rep.only_old.size()));
        w.Key("only_new").Int(static_cast<int64_t>(rep.only_new.size()));
        w.Key("slices").BeginObject();
        for (auto& [dim, values] : rep.slices) {
          w.Key(dim).BeginObject();
          for (auto& [value, s] : values) {
            w.Key(value).BeginObject().Key("n").Int(s.n).Key("diff").Number(s.diff_mean);
            w.Key("ci_low").Number(s.ci_low).Key("ci_high").Number(s.ci_high);
            w.Key("p_value").Number(s.p_value).EndObject();
          }
          w.EndObject();
        }
        w.EndObject();
        Ids(w, "warnings", rep.warnings, 20);
        w.EndObject();
        *out = w.Take();
        return Status::OK();
      }});
}

}  // namespace inloop::assist
