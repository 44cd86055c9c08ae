// `inloop deploy` and its sub-verbs (status, promote, rollback, compare): flags and the [deploy]
// table of a config file into gateway::DeployOptions, text for people, JSON for machines. The
// serving itself lives in gateway/; the sub-verbs talk to a running deploy over its admin
// endpoint on localhost. Never passes anything but the user's own argv to the replicas.
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "assist/http_client.h"
#include "audit/audit.h"
#include "audit/command_files.h"
#include "audit/serving_surface.h"
#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/display_text.h"
#include "common/json_writer.h"
#include "compare/eval_diff.h"
#include "config/toml_fields.h"
#include "gateway/deploy.h"
#include "registry/registry.h"
#include "stats/descriptive.h"

namespace inloop::cli {
namespace {

// Loads the [deploy] table of a TOML file into *o (flags given later override it).
Status LoadDeployConfig(const std::string& path, gateway::DeployOptions* o, int64_t* cache_mb) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    return Status::Invalid(fmt::format("{}:{}:{}: {}", path, err.source().begin.line,
                                       err.source().begin.column, err.description()));
  } catch (const std::exception& err) {
    return Status::NotFound(fmt::format("{}: {}", path, err.what()));
  }
  const toml::table* t = root["deploy"].as_table();
  if (!t) return Status::Invalid(fmt::format("{}: no [deploy] table", path));
  std::vector<config::TomlField> fields = {
      {"command", &o->command},
      {"version", &o->version},
      {"candidate", &o->candidate_command},
      {"candidate_version", &o->candidate_version},
      {"candidate_replicas", &o->candidate_replicas},
      {"shadow", &o->shadow_fraction},
      {"canary", &o->canary_percent},
      {"bind", &o->bind},
      {"port", &o->port},
      {"min", &o->autoscale.min_replicas},
      {"max", &o->autoscale.max_replicas},
      {"target_in_flight", &o->autoscale.target_in_flight},
      {"stable_window_s", &o->autoscale.stable_window_s},
      {"panic_window_s", &o->autoscale.panic_window_s},
      {"panic_threshold", &o->autoscale.panic_threshold},
      {"health_path", &o->health_path},
      {"health_interval_s", &o->health_interval_s},
      {"health_timeout_s", &o->health_timeout_s},
      {"health_failures", &o->health_failures},
      {"startup_timeout_s", &o->startup_timeout_s},
      {"drain_timeout_s", &o->drain_timeout_s},
      {"kill_grace_s", &o->kill_grace_s},
      {"max_body_bytes", &o->max_body_bytes},
      {"upstream_timeout_s", &o->upstream_timeout_s},
      {"queue_timeout_s", &o->queue_timeout_s},
      {"retries", &o->retries},
      {"cache_mb", cache_mb},
      {"cache_header", &o->cache_header},
      {"cache_temperature_zero", &o->cache_temperature_zero},
      {"cache_reverify", &o->cache_reverify_fraction},
  };
  return config::LoadTomlFields(*t, path, "deploy", fields);
}

Status CheckOptions(const gateway::DeployOptions& o) {
  auto bad = [](std::string m) { return Status::Invalid(std::move(m)); };
  if (o.command.empty()) return bad("deploy: give the server command after -- (or command = [...] in [deploy])");
  if (o.autoscale.min_replicas < 1) return bad("deploy: --min must be at least 1");
  if (o.autoscale.max_replicas < o.autoscale.min_replicas) return bad("deploy: --max must be >= --min");
  if (o.autoscale.target_in_flight <= 0) return bad("deploy: --target must be > 0");
  if (o.autoscale.panic_window_s <= 0 || o.autoscale.stable_window_s < o.autoscale.panic_window_s) {
    return bad("deploy: windows must satisfy 0 < --panic-window <= --stable-window");
  }
  if (o.shadow_fraction < 0 || o.shadow_fraction > 1) return bad("deploy: --shadow is a fraction in [0, 1]");
  if (o.canary_percent < 0 || o.canary_percent > 100) return bad("deploy: --canary is a percentage in [0, 100]");
  if ((o.shadow_fraction > 0 || o.canary_percent > 0) && o.candidate_command.empty()) {
    return bad("deploy: --shadow/--canary need a candidate command (a second -- CMD ... after the first)");
  }
  if (o.port < 0 || o.port > 65535) return bad("deploy: --port must be 0-65535");
  bool loopback = o.bind == "127.0.0.1" || o.bind == "::1" || o.bind == "localhost";
  if (!loopback && o.token.empty()) {
    return bad(fmt::format("deploy: binding {} needs a token (--token or INLOOP_DEPLOY_TOKEN)", o.bind));
  }
  return Status::OK();
}

int Serve(gateway::DeployOptions o) {
  Status s = CheckOptions(o);
  if (!s.ok()) {
    fmt::print(stderr, "inloop: error: {}\n", s.message());
    return kExitUsage;
  }
  std::string error;
  int code = gateway::RunDeploy(o, &error);
  if (code != 0) fmt::print(stderr, "inloop: error: deploy: {}\n", error);
  return code;
}

struct AdminTarget {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string token;
};

// POSTs to a running deploy's admin path; on success *body has the JSON answer.
int AdminCall(const AdminTarget& t, const std::string& path, std::string* body) {
  assist::HttpRequest req;
  req.url = fmt::format("http://{}:{}{}", t.host, t.port, path);
  req.body = "{}";
  req.headers.push_back("Content-Type: application/json");
  if (!t.token.empty()) req.headers.push_back("Authorization: Bearer " + t.token);
  req.connect_timeout_s = 3;
  req.idle_timeout_s = 10;
  assist::HttpResponse resp;
  std::string got;
  assist::HttpResult r = assist::HttpPost(
      req, [&](const assist::HttpResponse&, std::string_view piece) {
        got.append(piece);
        return true;
      }, &resp);
  if (r.failure != assist::HttpFailure::kNone && resp.status == 0) {
    fmt::print(stderr, "inloop: error: no deploy answers on {}:{} ({}); is `inloop deploy "
               "--port {}` running?\n", t.host, t.port, r.message, t.port);
    return kExitDeployUnreachable;
  }
  if (resp.status / 100 != 2) {
    std::string msg = resp.error_body;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    fmt::print(stderr, "inloop: error: deploy on port {} refused {}: HTTP {} {}\n", t.port, path,
               resp.status, msg);
    return kExitDeployRefused;
  }
  *body = std::move(got);
  return kExitOk;
}

// Empty when the element is missing or of another type.
simdjson::dom::array Array(simdjson::simdjson_result<simdjson::dom::element> e) {
  simdjson::dom::array a;
  if (e.get_array().get(a)) return {};
  return a;
}
simdjson::dom::object Object(simdjson::simdjson_result<simdjson::dom::element> e) {
  simdjson::dom::object o;
  if (e.get_object().get(o)) return {};
  return o;
}
bool Bool(simdjson::simdjson_result<simdjson::dom::element> e) {
  bool b = false;
  return e.get_bool().get(b) == simdjson::SUCCESS && b;
}
std::string_view Str(simdjson::simdjson_result<simdjson::dom::element> e) {
  std::string_view s;
  if (e.get_string().get(s)) return "";
  return s;
}

double Num(simdjson::simdjson_result<simdjson::dom::element> e) {
  double v = 0;
  int64_t i = 0;
  if (e.get_double().get(v) == simdjson::SUCCESS) return v;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  return 0;
}

int StatusVerb(const AdminTarget& t, bool json) {
  std::string body;
  int rc = AdminCall(t, "/admin/status", &body);
  if (rc != kExitOk) return rc;
  if (json) {
    fmt::print("{}", body);
    return kExitOk;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element d;
  if (parser.parse(body).get(d)) {
    fmt::print(stderr, "inloop: error: the deploy's status is not JSON\n");
    return kExitDeployRefused;
  }
  auto num = [](simdjson::simdjson_result<simdjson::dom::element> e) { return Num(e); };
  fmt::print("deploy on port {}   up {:.0f}s   in flight {}{}\n", num(d["port"]), num(d["uptime_s"]),
             num(d["in_flight"]), Bool(d["panic"]) ? "   PANIC (scaling up)" : "");
  if (num(d["shadow_fraction"]) > 0) fmt::print("shadow {:.0f}% of requests to the candidate\n",
                                                num(d["shadow_fraction"]) * 100);
  if (num(d["canary_percent"]) > 0) fmt::print("canary {}% of requests answered by the candidate\n",
                                               num(d["canary_percent"]));
  for (auto p : Array(d["pools"])) {
    fmt::print("\n{} version {}: {} ready, {} in flight\n", Str(p["role"]),
               Str(p["version"]), num(p["ready"]), num(p["in_flight"]));
    fmt::print("  {:>4} {:>6} {:>8} {:<9} {:>11} {:>8}\n", "ID", "PORT", "PID", "STATE",
               "OUTSTANDING", "RESTARTS");
    for (auto r : Array(p["replicas"])) {
      fmt::print("  {:>4} {:>6} {:>8} {:<9} {:>11} {:>8}\n", num(r["id"]), num(r["port"]),
                 num(r["pid"]), Str(r["state"]), num(r["outstanding"]),
                 num(r["restarts"]));
    }
  }
  fmt::print("\nrequests:");
  for (auto f : Object(d["requests"])) {
    fmt::print(" {}={}", f.key, num(simdjson::dom::element(f.value)));
  }
  fmt::print("   retries {}   restarts {}   timeouts {}\n", num(d["retries"]),
             num(d["replica_restarts"]), num(d["upstream_timeouts"]));
  simdjson::dom::object cache;
  if (!d["cache"].get_object().get(cache)) {
    fmt::print("cache: {} hits, {} misses, {} entries, {} / {} bytes; evictions:", num(cache["hits"]),
               num(cache["misses"]), num(cache["entries"]), num(cache["bytes"]),
               num(cache["max_bytes"]));
    bool any = false;
    for (auto f : Object(cache["evictions"])) {
      fmt::print(" {}={}", f.key, num(simdjson::dom::element(f.value)));
      any = true;
    }
    fmt::print("{}\n", any ? "" : " none");
  }
  fmt::print("shadow pairs {}   canary requests {}\n", num(d["shadow_pairs"]),
             num(d["canary_requests"]));
  fmt::print("\nrecent events:\n");
  for (auto e : Array(d["events"])) {
    fmt::print("  {}  {:<16} {}\n", LocalTimeText(num(e["time"])), Str(e["kind"]),
               Str(e["message"]));
  }
  return kExitOk;
}

int VersionSwitch(const AdminTarget& t, const std::string& verb, bool json) {
  std::string body;
  int rc = AdminCall(t, "/admin/" + verb, &body);
  if (rc != kExitOk) return rc;
  if (json) {
    fmt::print("{}", body);
    return kExitOk;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element d;
  std::string serving = "?";
  if (!parser.parse(body).get(d)) {
    for (auto p : Array(d["pools"])) {
      if (Str(p["role"]) == "current") serving = std::string(Str(p["version"]));
    }
  }
  fmt::print("{}: version {} serves now; in-flight requests of the other finish before it "
             "stops\n", verb == "promote" ? "promoted" : "rolled back", serving);
  return kExitOk;
}

struct CompareOptions {
  std::string pairs_path;
  std::string score_key = "score";
  bool json = false;
  compare::EvalDiffOptions diff;
};

using stats::Median;

// The score of one answer: the latency, or the top-level number `key` of its JSON body.
std::optional<double> ScoreOf(simdjson::dom::element side, const std::string& key) {
  if (key == "latency_ms") {
    double v;
    if (side["latency_ms"].get_double().get(v) == simdjson::SUCCESS) return v;
    return std::nullopt;
  }
  std::string_view body;
  if (side["body"].get_string().get(body)) return std::nullopt;
  simdjson::dom::parser p;
  simdjson::dom::element d;
  if (p.parse(body.data(), body.size()).get(d)) return std::nullopt;
  double v;
  if (d[key].get_double().get(v) == simdjson::SUCCESS) return v;
  return std::nullopt;
}

int Compare(const CompareOptions& c) {
  std::ifstream in(c.pairs_path);
  if (!in) {
    fmt::print(stderr, "inloop: error: {}: no shadow pairs recorded (run `inloop deploy --shadow "
               "FRAC -- CMD -- CANDIDATE_CMD` first)\n", c.pairs_path);
    return kExitNotFound;
  }
  compare::EvalFile old_file, new_file;
  old_file.path = c.pairs_path + "#current";
  new_file.path = c.pairs_path + "#candidate";
  std::vector<double> old_lat, new_lat;
  int64_t lines = 0, skipped = 0, same = 0, bad = 0;
  std::string line;
  std::string old_version, new_version;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) {
    ++lines;
    if (line.empty()) continue;
    simdjson::dom::element d;
    if (parser.parse(line).get(d)) {
      ++bad;
      continue;
    }
    std::string_view id, request;
    simdjson::dom::element cur, cand;
    if (d["id"].get_string().get(id) || d["current"].get(cur) || d["candidate"].get(cand)) {
      ++bad;
      continue;
    }
    request = Str(d["request"]);
    int64_t s1 = 0, s2 = 0;
    s1 = static_cast<int64_t>(Num(cur["status"]));
    s2 = static_cast<int64_t>(Num(cand["status"]));
    auto a = ScoreOf(cur, c.score_key), b = ScoreOf(cand, c.score_key);
    if (s1 != 200 || s2 != 200 || !a || !b) {
      ++skipped;
      continue;
    }
    std::string_view v1, v2, o1, o2;
    v1 = Str(cur["version"]);
    v2 = Str(cand["version"]);
    old_version = v1;
    new_version = v2;
    o1 = Str(cur["body"]);
    o2 = Str(cand["body"]);
    same += o1 == o2;
    double l1 = 0, l2 = 0;
    l1 = Num(cur["latency_ms"]);
    l2 = Num(cand["latency_ms"]);
    old_lat.push_back(l1);
    new_lat.push_back(l2);
    compare::EvalRecord r;
    r.id = std::string(id);
    r.line = lines;
    r.input = std::string(request);
    r.score = *a;
    r.output = std::string(o1);
    old_file.records.push_back(r);
    r.score = *b;
    r.output = std::string(o2);
    new_file.records.push_back(std::move(r));
  }
  int64_t n = static_cast<int64_t>(old_file.records.size());
  if (n == 0) {
    fmt::print(stderr, "inloop: error: {}: no pair with both answers 200 and a `{}` score ({} "
               "lines, {} skipped, {} unreadable)\n", c.pairs_path, c.score_key, lines, skipped, bad);
    return kExitDeployNoPairs;
  }
  compare::EvalDiffReport rep;
  Status s = compare::ComputeEvalDiff(old_file, new_file, c.diff, &rep);
  if (!s.ok()) return Fail(s);
  double agree = static_cast<double>(same) / n;
  if (c.json) {
    JsonWriter w;
    w.BeginObject().Key("pairs").Int(n).Key("skipped").Int(skipped).Key("unreadable").Int(bad);
    w.Key("score_key").String(c.score_key);
    w.Key("current_version").String(old_version).Key("candidate_version").String(new_version);
    w.Key("identical_answers").Number(agree);
    w.Key("latency_ms_median").BeginObject().Key("current").Number(Median(old_lat));
    w.Key("candidate").Number(Median(new_lat)).EndObject();
    w.Key("eval_diff");
    compare::WriteEvalDiffJson(rep, &w);
    w.EndObject();
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  const auto& g = rep.overall;
  fmt::print("{} pairs ({} skipped, {} unreadable): current {} vs candidate {}, score `{}`\n", n,
             skipped, bad, old_version, new_version, c.score_key);
  fmt::print("  current   mean {:.4f} (se {:.4f})\n", g.old_arm.mean, g.old_arm.se);
  fmt::print("  candidate mean {:.4f} (se {:.4f})\n", g.new_arm.mean, g.new_arm.se);
  fmt::print("  difference {:+.4f}, 95% CI [{:+.4f}, {:+.4f}], p = {:.4g} ({})\n", g.diff_mean,
             g.ci_low, g.ci_high, g.p_value, g.test);
  fmt::print("  {} regressed, {} improved; identical answers {:.1f}%\n", g.n_regressed,
             g.n_improved, agree * 100);
  fmt::print("  median latency: current {:.2f} ms, candidate {:.2f} ms\n", Median(old_lat),
             Median(new_lat));
  for (auto& w : rep.warnings) fmt::print("  note: {}\n", w);
  return kExitOk;
}

}  // namespace

namespace {

// Before any replica starts: the files the server and candidate commands name (weights, the
// server script, model directories) pass `inloop audit`, or the deploy is refused.
// What the served code depends on and exposes (audit/serving_surface.h), one line per script.
void PrintServingSurface(const gateway::DeployOptions& o) {
  std::vector<std::string> files;
  for (const auto* cmd : {&o.command, &o.candidate_command}) {
    for (std::string& f : audit::FilesNamedBy(*cmd, ".")) files.push_back(std::move(f));
  }
  for (const audit::ServingSurface& s : audit::SurfacesOf(files)) {
    fmt::print(stderr, "inloop: deploy: {}: {}\n", s.file, audit::ServingSurfaceText(s));
  }
}

int AuditServedFiles(const gateway::DeployOptions& o, const std::vector<std::string>& allow) {
  std::vector<audit::FileVerdict> verdicts;
  Status s = audit::AuditCommandFiles({o.command, o.candidate_command}, allow, &verdicts);
  if (!s.ok()) {
    fmt::print(stderr, "inloop: error: deploy: {}\n", s.message());
    return ExitCodeFor(s);
  }
  if (verdicts.empty()) return 0;
  size_t failing = 0;
  for (const audit::FileVerdict& v : verdicts) {
    if (v.findings.empty() || v.worst() < audit::Severity::kHigh) continue;
    ++failing;
    const audit::Finding* worst = &v.findings.front();
    for (const audit::Finding& f : v.findings) {
      if (f.severity > worst->severity) worst = &f;
    }
    fmt::print(stderr, "inloop: deploy: {} fails the audit: {} ({})\n", v.file, worst->message,
               worst->rule);
  }
  if (failing > 0) {
    fmt::print(stderr, "inloop: error: deploy refused: {} of {} file{} the commands name fail "
               "`inloop audit` (run it for every finding and its fix); --allow-unaudited starts "
               "anyway\n", failing, verdicts.size(), verdicts.size() == 1 ? "" : "s");
    return kExitDeployRefused;
  }
  fmt::print(stderr, "inloop: deploy: {} file{} the commands name pass the audit\n",
             verdicts.size(), verdicts.size() == 1 ? "" : "s");
  return 0;
}

// --model NAME: the registry's champion fills {artifact} of the command; a candidate newer than
// the champion gets the same command with its own artifact, in shadow (unless a candidate
// command or a canary was given).
int ResolveModel(const std::string& store_dir, const std::string& model, bool labelled,
                 gateway::DeployOptions* o) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(store_dir, &st);
  registry::DeployTargets t;
  if (s.ok()) s = registry::DeployTargetsOf(st.get(), model, &t);
  if (!s.ok()) return Fail(s);
  bool named = std::any_of(o->command.begin(), o->command.end(), [](const std::string& a) {
    return a.find("{artifact}") != std::string::npos;
  });
  if (!named) {
    return Fail(Status::Invalid("deploy --model: name the artifact in the server command as "
                                "{artifact}, e.g. -- python3 serve.py --weights {artifact}"));
  }
  std::vector<std::string> base = o->command;
  o->command = registry::WithArtifact(base, t.champion.artifact);
  if (!labelled) o->version = fmt::format("{}:v{}", model, t.champion.version);
  std::string shadowed;
  if (t.shadow && o->candidate_command.empty()) {
    o->candidate_command = registry::WithArtifact(base, t.shadow->artifact);
    o->candidate_version = fmt::format("{}:v{}", model, t.shadow->version);
    if (o->shadow_fraction == 0 && o->canary_percent == 0) o->shadow_fraction = 1;
    shadowed = fmt::format("; shadowing candidate v{} ({})", t.shadow->version, t.shadow->artifact);
  }
  fmt::print(stderr, "inloop: deploy: model {}: serving champion v{} ({}){}\n", model,
             t.champion.version, t.champion.artifact, shadowed);
  return kExitOk;
}

}  // namespace

int CmdDeploy(int argc, char** argv) {
  // Everything after the first "--" is the server command; a second lone "--" starts the
  // candidate's command.
  int parsed_argc = argc;
  std::vector<std::string> command, candidate;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) != "--") continue;
    parsed_argc = i;
    auto* into = &command;
    for (int j = i + 1; j < argc; ++j) {
      if (std::string_view(argv[j]) == "--" && into == &command) {
        into = &candidate;
        continue;
      }
      into->push_back(argv[j]);
    }
    break;
  }

  gateway::DeployOptions o;
  int64_t cache_mb = o.cache_bytes >> 20;
  std::string config_path;
  for (int i = 1; i + 1 < parsed_argc; ++i) {
    if (std::string_view(argv[i]) == "--config") config_path = argv[i + 1];
  }
  if (!config_path.empty()) {
    Status s = LoadDeployConfig(config_path, &o, &cache_mb);
    if (!s.ok()) return Fail(s);
  }
  if (const char* t = getenv("INLOOP_DEPLOY_TOKEN"); t && *t) o.token = t;
  if (const char* h = getenv("INLOOP_DEPLOY_TEST_HOOKS"); h && std::string_view(h) == "1") {
    o.test_hooks = true;
  }

  CLI::App app{"inloop deploy: replicas of a model server behind a proxy (autoscaling, health, "
               "cache, shadow/canary)", "inloop deploy"};
  std::string store_dir, name = "deploy";
  bool no_cache = false, json = false;
  app.add_option("--config", config_path, "TOML file with a [deploy] table (flags win)");
  app.add_option("--store", store_dir, "store directory (state under STORE/deploy/NAME)");
  app.add_option("--name", name, "deploy name (default deploy)");
  app.add_option("--min", o.autoscale.min_replicas, "fewest replicas (default 1)");
  app.add_option("--max", o.autoscale.max_replicas, "most replicas (default 4)");
  app.add_option("--port", o.port, "proxy port (default 8080; 0: any free port)");
  app.add_option("--port-file", o.port_file, "write the bound port to this file");
  app.add_option("--bind", o.bind, "proxy address (default 127.0.0.1; others need --token)");
  app.add_option("--token", o.token, "admin token (or INLOOP_DEPLOY_TOKEN)");
  app.add_option("--version-label", o.version, "label of the current version (default current)");
  app.add_option("--candidate-label", o.candidate_version, "label of the candidate (default candidate)");
  app.add_option("--candidate-replicas", o.candidate_replicas, "replicas of the candidate (default 1)");
  app.add_option("--shadow", o.shadow_fraction, "mirror this fraction of requests to the candidate");
  app.add_option("--canary", o.canary_percent, "answer this percentage of requests by the candidate");
  app.add_option("--health-path", o.health_path, "readiness and health path (default /health)");
  app.add_option("--health-interval", o.health_interval_s, "seconds between health checks (default 1)");
  app.add_option("--target", o.autoscale.target_in_flight, "in-flight requests per replica (default 4)");
  app.add_option("--stable-window", o.autoscale.stable_window_s, "seconds (default 60)");
  app.add_option("--panic-window", o.autoscale.panic_window_s, "seconds (default 6)");
  app.add_option("--panic-threshold", o.autoscale.panic_threshold, "x capacity (default 2)");
  app.add_option("--cache-mb", cache_mb, "response cache size in MiB (default 64)");
  app.add_flag("--no-cache", no_cache, "no response cache");
  app.add_option("--cache-reverify", o.cache_reverify_fraction,
                 "fraction of cache hits checked against a live answer (default 0)");
  app.add_option("--max-body", o.max_body_bytes, "largest request body in bytes (default 1 MiB)");
  app.add_option("--upstream-timeout", o.upstream_timeout_s, "seconds to a response head (default 60)");
  app.add_option("--startup-timeout", o.startup_timeout_s, "seconds for a replica to get ready (default 60)");
  app.add_option("--drain-timeout", o.drain_timeout_s, "seconds for in-flight requests when draining (default 30)");
  app.add_flag("--test-hooks", o.test_hooks, "enable the test-only admin endpoints (never in production)");
  bool allow_unaudited = false;
  std::vector<std::string> audit_allow;
  app.add_flag("--allow-unaudited", allow_unaudited,
               "start even when a file the commands name fails `inloop audit`");
  app.add_option("--audit-allow", audit_allow,
                 "a pickle global you trust in the served files: MODULE.NAME or MODULE.*");

  std::string model;
  app.add_option("--model", model,
                 "serve this registered model's champion: {artifact} in the command becomes its "
                 "artifact; a newer candidate is shadowed (docs/model_registry.md)");

  AdminTarget target;
  CompareOptions cmp;
  auto add_client = [&](CLI::App* sub) {
    sub->add_option("--port", target.port, "the deploy's proxy port (default 8080)");
    sub->add_option("--host", target.host, "the deploy's address (default 127.0.0.1)");
    sub->add_option("--token", target.token, "admin token (or INLOOP_DEPLOY_TOKEN)");
    sub->add_flag("--json", json, "JSON output");
  };
  auto* status = app.add_subcommand("status", "replicas, requests, cache, scaling events");
  add_client(status);
  auto* promote = app.add_subcommand("promote", "the candidate becomes the current version");
  add_client(promote);
  auto* rollback = app.add_subcommand("rollback", "stop the candidate; the current version stays");
  add_client(rollback);
  auto* compare = app.add_subcommand("compare", "eval-diff statistics over the recorded shadow pairs");
  compare->add_option("--store", store_dir, "store directory");
  compare->add_option("--name", name, "deploy name (default deploy)");
  compare->add_option("--pairs", cmp.pairs_path, "pairs JSONL (default STORE/deploy/NAME/pairs.jsonl)");
  compare->add_option("--score-key", cmp.score_key,
                      "number in each JSON answer to compare, or latency_ms (default score)");
  compare->add_option("--seed", cmp.diff.seed, "bootstrap seed");
  compare->add_flag("--json", json, "JSON output");
  app.require_subcommand(0, 1);

  // argv[0] is "deploy"; CLI11 wants the program name first.
  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (const char* t = getenv("INLOOP_DEPLOY_TOKEN"); t && *t && target.token.empty()) {
    target.token = t;
  }
  if (*status) return StatusVerb(target, json);
  if (*promote) return VersionSwitch(target, "promote", json);
  if (*rollback) return VersionSwitch(target, "rollback", json);
  std::string state_dir = ResolveStore(store_dir) + "/deploy/" + name;
  if (*compare) {
    cmp.json = json;
    if (cmp.pairs_path.empty()) cmp.pairs_path = state_dir + "/pairs.jsonl";
    return Compare(cmp);
  }
  if (!command.empty()) o.command = command;
  if (!candidate.empty()) o.candidate_command = candidate;
  if (!model.empty()) {
    if (int rc = ResolveModel(ResolveStore(store_dir), model, app.count("--version-label") > 0, &o)) {
      return rc;
    }
  }
  if (!allow_unaudited) {
    if (int rc = AuditServedFiles(o, audit_allow); rc != 0) return rc;
  }
  PrintServingSurface(o);
  o.cache_bytes = no_cache ? 0 : cache_mb << 20;
  o.state_dir = state_dir;
  o.print_events = isatty(2);
  return Serve(o);
}

}  // namespace inloop::cli
