// The dashboard's research-loop view in a real browser (headless Debian chromium, playwright-core):
// a real `inloop loop run --search` over the synthetic objective of tests/loop (a git repo, TPE
// rounds kept as commits), then `inloop serve` over its store. The "loops" button appears, the
// view opens from it and from ?view=loop, and what it shows — the rounds table, the verdicts, the
// champion's lineage, the chart's points per verdict — is what /api/v1/loops/NAME and
// `inloop loop log --json` say. One more round, by an "agent" that edits the loop's own budget, is
// `tampered` (issue 21): shown in red in the table and counted in red in the summary.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { api, check, done, eq, inloop, launch, screenshot, serve, tempDir, SRC } from "./browser.mjs";

const PY = process.env.INLOOP_PYTHON || "/usr/bin/python3";
const work = tempDir("inloop-loopview-");
const repo = path.join(work, "repo");
const store = path.join(work, "store");
fs.mkdirSync(repo);
const git = (...args) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
git("init", "-q", "-b", "main");
git("config", "user.name", "tester");
git("config", "user.email", "tester@example.com");
fs.copyFileSync(path.join(SRC, "tests/loop/objective.py"), path.join(repo, "objective.py"));
fs.writeFileSync(path.join(repo, "params.json"), "{}\n");
fs.writeFileSync(path.join(repo, "space.toml"), `[search]
seed = 5
random_starts = 4
params_file = "params.json"
[params.x]
type = "float"
low = -2.0
high = 2.0
[params.lr]
type = "float"
low = 1e-5
high = 1e-1
log = true
`);
git("add", "-A");
git("commit", "-qm", "objective");

const env = { INLOOP_STORE: store };
inloop(["loop", "init", "--name", "bowl", "--metric", "objective:min", "--budget", "30s", "--seeds", "1", "--max-seeds", "1", "--recheck-every", "0",
  "--", PY, "objective.py", "--lr", "{lr}"], { cwd: repo, env });
inloop(["loop", "run", "--search", "space.toml", "--rounds", "10"], { cwd: repo, env });
const tamperer = "import json, os; p = os.path.join(os.path.dirname(os.environ['INLOOP_LOOP_HISTORY']), 'config.json'); " +
  "c = json.load(open(p)); c['budget_s'] = 3000; json.dump(c, open(p, 'w'))";
inloop(["loop", "run", "--agent", `${PY} -c "${tamperer}"`, "--rounds", "1"], { cwd: repo, env });
const log = JSON.parse(inloop(["loop", "log", "--json"], { cwd: repo, env }));
eq(log.length, 12, "the loop recorded the baseline and 11 rounds");
eq(log[11].verdict, "tampered", "the agent that edited the loop's budget is tampered");
const kept = log.filter(r => r.verdict === "kept").length;
check(kept >= 1 && log.some(r => r.verdict === "discarded"), `the search kept ${kept} round(s) and discarded others`);

const srv = await serve(store);
const get = api(srv);
const loops = (await get("/api/v1/loops")).loops;
eq(loops.map(l => l.name), ["bowl"], "the API lists the loop");
const detail = await get("/api/v1/loops/bowl");
eq(detail.rounds.map(r => [r.round, r.verdict]), log.map(r => [r.round, r.verdict]), "the API's rounds are the loop's log");

// The loop's pace and cost: what `loop status --json` computes from rounds.jsonl, the API from
// the store's loop_round events, and /metrics as gauges.
const status = JSON.parse(inloop(["loop", "status", "--json"], { cwd: repo, env }));
eq(status.throughput.experiments, 11, "status counts the 10 search rounds and the tampered one as experiments");
eq(status.throughput.kept, kept, "status counts the kept rounds");
check(status.throughput.experiments_per_hour > 0 && status.throughput.cpu_hours > 0, "status has a pace and a CPU cost");
eq(loops[0].throughput.experiments, status.throughput.experiments, "the API's experiments are the status's");
check(Math.abs(loops[0].throughput.experiments_per_hour - status.throughput.experiments_per_hour) < 1e-6 * status.throughput.experiments_per_hour,
  "the API's experiments per hour are the status's");
const metricsText = await (await fetch(srv.url("/metrics"))).text();
check(metricsText.includes('inloop_loop_experiments{loop="bowl"} 11'), "/metrics has the loop's experiments");
check(/inloop_loop_experiments_per_hour\{loop="bowl"\} [0-9.e+]+/.test(metricsText), "/metrics has experiments per hour");
check(metricsText.includes('inloop_loop_cpu_hours_per_kept{loop="bowl"}'), "/metrics has CPU-hours per kept improvement");

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  await page.goto(srv.url("/"));
  await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector("#loops-button").hidden, null, { timeout: 10000 });
  eq(await page.locator("#loops-button").textContent(), "loops (1)", "the header's loops button");
  check(await page.locator("#loop-view").isHidden(), "the loop view starts closed");

  // Opened from the button: the table, the lineage and the chart say what the API says.
  await page.click("#loops-button");
  await page.waitForFunction(() => document.querySelectorAll("#loop-rounds tbody tr").length > 0, null, { timeout: 10000 });
  const shown = await page.evaluate(() => ({
    state: window.__inloop.loop(),
    rows: [...document.querySelectorAll("#loop-rounds tbody tr")].map(tr => [...tr.children].map(td => td.textContent)),
    lineage: document.querySelectorAll("#loop-lineage li").length,
    canvas: !!document.querySelector("#loop-view canvas"),
    picker: document.querySelector("#loop-picker")?.value,
    pace: document.querySelector("#loop-pace")?.textContent,
  }));
  eq(shown.picker, "bowl", "the picker shows the loop");
  check(/experiments\/h · .* kept\/h · .* CPU-h per kept/.test(shown.pace), `the view shows the loop's pace: ${shown.pace}`);
  eq(shown.rows.map(r => [Number(r[0]), r[1]]), detail.rounds.map(r => [r.round, r.verdict]), "one table row per round, with its verdict");
  const commitCol = shown.rows.map(r => r[6]);
  eq(commitCol, detail.rounds.map(r => (r.commit && r.verdict !== "discarded" ? r.commit.slice(0, 10) : "")), "kept rounds show their commit");
  eq(shown.state.lineage, detail.lineage, "the view's lineage is the API's");
  eq(shown.lineage, detail.lineage.length, "one lineage entry per champion");
  eq(detail.lineage, log.filter(r => r.verdict === "baseline" || r.verdict === "kept").map(r => r.round),
    "the lineage is the baseline and the kept rounds");
  check(shown.canvas, "the metric per round is drawn");
  const red = await page.evaluate(() => ({
    verdict: getComputedStyle(document.querySelector('#loop-rounds tr[data-verdict="tampered"] .verdict')).color,
    summary: document.querySelector("#loop-tampered")?.textContent,
    summaryColour: getComputedStyle(document.querySelector("#loop-tampered")).color,
  }));
  eq(red, { verdict: "rgb(214, 39, 40)", summary: "1 tampered", summaryColour: "rgb(214, 39, 40)" }, "tampered in red");
  const best = JSON.parse(inloop(["loop", "best", "--json"], { cwd: repo, env }));
  eq(detail.rounds.filter(r => r.verdict === "kept").at(-1)?.commit ?? "", best.commit ?? "", "the last kept round is the champion of `loop best`");
  await screenshot(page, "loop-view.png");
  await page.click("#loop-close");
  check(await page.locator("#loop-view").isHidden(), "close hides the view");

  // Opened from the address: ?view=loop&loop=bowl.
  const direct = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await direct.goto(srv.url("/?view=loop&loop=bowl"));
  await direct.waitForFunction(() => document.querySelectorAll("#loop-rounds tbody tr").length > 0, null, { timeout: 15000 });
  eq(await direct.locator("#loop-rounds tbody tr").count(), detail.rounds.length, "?view=loop opens the view directly");
  eq(errors, [], "no script errors");
} finally {
  await browser.close();
  srv.proc.kill("SIGTERM");
}
fs.rmSync(work, { recursive: true, force: true });
done();
