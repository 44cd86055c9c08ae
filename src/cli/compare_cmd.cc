// `inloop compare`: one metric of two runs, or of two groups of runs picked by name patterns.
#include <fnmatch.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/json_writer.h"
#include "compare/html_app.h"
#include "compare/run_compare.h"

namespace inloop::cli {
namespace {

// A ref is a run id, id prefix or name (newest wins); one with a glob character is a pattern
// over names, and each matching name contributes its newest run.
Status ResolveGroup(store::Store* st, const std::vector<std::string>& refs,
                    std::vector<std::string>* ids) {
  std::vector<store::RunRecord> all;
  bool listed = false;
  std::set<std::string> seen;
  for (auto& ref : refs) {
    if (ref.find_first_of("*?[") == std::string::npos) {
      store::RunRecord r;
      INLOOP_RETURN_IF_ERROR(st->FindRun(ref, &r));
      if (seen.insert(r.id).second) ids->push_back(r.id);
      continue;
    }
    if (!listed) {
      INLOOP_RETURN_IF_ERROR(st->ListRuns(&all));  // newest first
      listed = true;
    }
    std::set<std::string> names;
    size_t before = ids->size();
    for (auto& r : all) {
      if (fnmatch(ref.c_str(), r.name.c_str(), 0) != 0) continue;
      if (!names.insert(r.name).second) continue;  // an older run of a reused name
      if (seen.insert(r.id).second) ids->push_back(r.id);
    }
    if (ids->size() == before)
      return Status::NotFound(fmt::format("no run name matches '{}' (see `inloop runs`)", ref));
  }
  return Status::OK();
}

}  // namespace

int CmdCompare(const CompareArgs& a) {
  compare::CompareOptions opts;
  if (!compare::ParseAlign(a.align, &opts.align))
    return Fail(Status::Invalid(fmt::format("--align {}: use step, tokens or time", a.align)));
  if (a.goal == "min") opts.goal = compare::Goal::kMin;
  else if (a.goal == "max") opts.goal = compare::Goal::kMax;
  else if (!a.goal.empty())
    return Fail(Status::Invalid(fmt::format("--goal {}: use min or max", a.goal)));
  if (a.tokens_per_step > 0) opts.tokens_per_step = a.tokens_per_step;
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(ResolveStore(a.store_dir), &st);
  if (!s.ok()) return Fail(s);
  std::vector<std::string> ia, ib;
  if (!(s = ResolveGroup(st.get(), a.a, &ia)).ok()) return Fail(s);
  if (!(s = ResolveGroup(st.get(), a.b, &ib)).ok()) return Fail(s);
  for (auto& id : ib)
    if (std::find(ia.begin(), ia.end(), id) != ia.end())
      return Fail(Status::Invalid(fmt::format("run {} is in both groups: make --a and --b disjoint",
                                              id)));
  std::string key = a.key;
  if (key.empty()) {
    std::vector<std::string> both = ia;
    both.insert(both.end(), ib.begin(), ib.end());
    if (!(s = compare::ChooseKey(st.get(), both, &key)).ok()) return Fail(s);
  }
  std::vector<compare::Curve> ca(ia.size()), cb(ib.size());
  for (size_t i = 0; i < ia.size(); ++i)
    if (!(s = compare::LoadCurve(st.get(), ia[i], key, opts, &ca[i])).ok()) return Fail(s);
  for (size_t i = 0; i < ib.size(); ++i)
    if (!(s = compare::LoadCurve(st.get(), ib[i], key, opts, &cb[i])).ok()) return Fail(s);
  compare::CompareResult res;
  if (!(s = compare::Compare(ca, cb, key, opts, &res)).ok()) return Fail(s);
  if (!a.html.empty()) {
    JsonWriter w;
    w.BeginObject().Key("view").String("compare");
    w.Key("title").String(fmt::format("{}: {} vs {}", key, res.a.names.size() == 1 ? res.a.names[0]
                                                          : fmt::format("{} runs", res.a.names.size()),
                                      res.b.names.size() == 1 ? res.b.names[0]
                                                          : fmt::format("{} runs", res.b.names.size())));
    w.Key("subtitle").String(fmt::format("inloop compare · aligned on {}", compare::AlignName(opts.align)));
    w.Key("report");
    compare::WriteCompareJson(res, w);
    w.EndObject();
    if (!(s = compare::WriteCompareApp(a.html, w.str())).ok()) return Fail(s);
  }
  if (a.json) {
    JsonWriter w;
    compare::WriteCompareJson(res, w);
    fmt::print("{}\n", w.str());
  } else {
    fmt::print("{}\n", compare::CompareText(res));
    if (!a.html.empty()) fmt::print("wrote {}\n", a.html);
  }
  return kExitOk;
}

}  // namespace inloop::cli
