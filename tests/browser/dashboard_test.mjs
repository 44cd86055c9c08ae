// The live dashboard of `inloop serve` in a real browser (headless Debian chromium, playwright-core):
// a store of real `inloop run` runs (tiny python scripts printing `step=N loss=X lr=Y`, one of them
// under --policy ask waiting for approval), the runs table checked against /api/v1/runs (rows,
// sort, filter), the charts' drawn data against /api/v1/series at the same width, a zoom that
// re-queries the visible range, an approval from the page that resumes the run, the theme toggle.
// Then a 100 runs x 100,000 points store to measure (print, not assert) first meaningful paint.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { api, check, done, eq, inloop, launch, screenshot, serve, servers, tempDir, waitFor, BIN } from "./browser.mjs";

const PY = process.env.INLOOP_PYTHON || "/usr/bin/python3";
const work = tempDir("inloop-dashboard-");
const store = path.join(work, "store");

// ---- a store of real supervised runs ----
fs.writeFileSync(path.join(work, "train.py"), `
import argparse, math, sys
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.01)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--steps", type=int, default=300)
a = p.parse_args()
for step in range(1, a.steps + 1):
    loss = 2.0 * math.exp(-step * a.lr * 0.5) + 0.5 + 0.02 * math.sin(step * 0.7 + a.seed)
    if a.steps > 1000 and step == a.steps // 3:
        loss += 40.0  # one spike that M4 must keep at every zoom level
    print("step=%d loss=%.6f lr=%g" % (step, loss, a.lr * (1 - step / (a.steps + 1))))
`);
function runSweep() {
  const made = [];
  for (const lr of ["0.01", "0.03"]) for (const seed of [1, 2, 3]) {
    const name = `sweep-lr${lr}-s${seed}`;
    inloop(["run", "--store", store, "--name", name, "--policy", "observe", "--", PY, path.join(work, "train.py"), "--lr", lr, "--seed", String(seed)], { cwd: work });
    made.push(name);
  }
  // One long run: 30,000 points, more than the chart's pixel columns, so the API downsamples.
  // --policy observe: the spike is a finding (a marker on the chart), nothing is restarted.
  inloop(["run", "--store", store, "--name", "long", "--policy", "observe", "--", PY, path.join(work, "train.py"), "--lr", "0.001", "--steps", "30000"], { cwd: work });
  made.push("long");
  return made;
}

// An ask-mode run (the setup of tests/e2e/remedy_generic_test.sh): a NaN from the data of step 40
// makes the supervisor propose rollback_skip to the step-30 checkpoint and wait; the script keeps
// training slowly so the proposal stays pending until the page decides. Resumed, it runs fast.
const askDir = path.join(work, "ask");
fs.mkdirSync(askDir);
fs.writeFileSync(path.join(askDir, "train.py"), `
import argparse, math, os, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=400)
p.add_argument("--resume")
p.add_argument("--skip-from", type=int, default=0)
p.add_argument("--skip-to", type=int, default=0)
a = p.parse_args()
start = int(open(a.resume).read()) if a.resume else 0
os.makedirs("ckpt", exist_ok=True)
for step in range(start + 1, a.steps + 1):
    data = step + (a.skip_to - a.skip_from if a.skip_from <= step else 0)
    loss = 2.0 + 1.0 / step + 0.001 * (step % 3)
    if data == 40:
        loss = float("nan")
    print("step=%d loss=%s lr=0.01" % (step, loss), flush=True)
    if step % 10 == 0:
        with open("ckpt/step-%d.pt.tmp" % step, "w") as f:
            f.write(str(step))
        os.replace("ckpt/step-%d.pt.tmp" % step, "ckpt/step-%d.pt" % step)
    time.sleep(0.002 if a.resume else (0.2 if 30 < step <= 40 else 0.03 if step < 30 else 0.25))
`);
fs.writeFileSync(path.join(askDir, "inloop.toml"), `[remedy]
checkpoint_glob = "ckpt/step-*.pt"
checkpoint_settle_seconds = 0.5
checkpoint_args = ["--resume", "{checkpoint}"]
skip_args = ["--skip-from", "{skip_from}", "--skip-to", "{skip_to}"]
`);

const decode = v => (v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v);
const sameNumbers = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]) || v === b[i]);

// ======================================================================= functional checks
const names = runSweep();
const ask = spawn(BIN, ["run", "--store", store, "--name", "needs-approval", "--policy", "ask", "--", PY, "train.py"],
  { cwd: askDir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
let askErr = "";
ask.stderr.on("data", d => (askErr += d));
const askExit = new Promise(r => ask.on("exit", code => r(code)));
servers.push(ask);

const srv = await serve(store);
const get = api(srv);
const pendingList = await waitFor("the ask run's pending action",
  async () => { const a = (await get("/api/v1/actions?state=pending")).actions; return a.length ? a : null; }, 60000)
  .catch(e => { throw new Error(`${e.message}; run stderr: ${askErr.slice(-2000)}`); });
const pending = pendingList[0];
check(["rollback_skip"].includes(pending.kind ?? pending.action), `the pending action is a rollback_skip (${pending.kind ?? pending.action})`);

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: "dark" });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text()); });
  page.on("response", r => { if (r.status() >= 400) errors.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
  await page.goto(srv.url("/"));
  await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector(".pend button.approve"), null, { timeout: 15000 });
  eq(errors, [], "the dashboard runs without script errors");
  await screenshot(page, "dashboard-landing.png");

  // ---- the runs table against /api/v1/runs ----
  const all = await get("/api/v1/runs?limit=1000");
  const t = await page.evaluate(() => window.__inloop.table());
  eq(t.rows.length, all.total, "one table row per run");
  eq(t.rows, all.runs.map(r => r.id), "default order: newest first, as the API");
  eq(await page.locator("#runs-count").textContent(), `${all.total} of ${all.total} runs · ${t.selected.length} selected`, "count line");
  check(t.selected.length >= 5 && t.selected.every(id => all.runs.slice(0, 5).some(r => r.id === id)), "the most recent runs are selected and charted");
  const domRows = await page.locator(".runs .row").count();
  eq(domRows, all.total, "every row of a short table is rendered");
  await page.click(".runs-head [data-sort='name']");
  const byName = await get("/api/v1/runs?limit=1000&sort=name&order=asc");
  eq((await page.evaluate(() => window.__inloop.table())).rows, byName.runs.map(r => r.id), "name header sorts like sort=name&order=asc");
  const firstCell = await page.locator(".runs .row").first().locator("[data-col='name']").textContent();
  eq(firstCell, byName.runs[0].name, "the first row shown is the first by name");
  await page.click(".runs-head [data-sort='name']");
  eq((await page.evaluate(() => window.__inloop.table())).rows, byName.runs.map(r => r.id).reverse(), "clicking again reverses");
  // Filters apply after a short debounce: wait for the table to settle on the API's answer.
  const settlesOn = async (ids, what) => {
    const want = ids.slice().sort();
    await page.waitForFunction(w => JSON.stringify(window.__inloop.table().rows.slice().sort()) === JSON.stringify(w), want, { timeout: 10000 }).catch(() => {});
    eq((await page.evaluate(() => window.__inloop.table())).rows.slice().sort(), want, what);
  };
  await page.fill("#filter", "lr=0.03");
  const f1 = await get("/api/v1/runs?limit=1000&param.lr=0.03");
  check(f1.runs.length === 3, "three runs have lr=0.03");
  await settlesOn(f1.runs.map(r => r.id), "param filter lr=0.03 matches param.lr=0.03");
  await page.fill("#filter", "sweep*s2");
  const f2 = await get("/api/v1/runs?limit=1000&name=" + encodeURIComponent("sweep*s2"));
  check(f2.runs.length === 2, "two runs match sweep*s2");
  await settlesOn(f2.runs.map(r => r.id), "name glob matches name=sweep*s2");
  await page.fill("#filter", "");
  await page.selectOption("#status-filter", "running");
  const f3 = await get("/api/v1/runs?limit=1000&status=running");
  await settlesOn(f3.runs.map(r => r.id), "status filter matches status=running");
  await page.selectOption("#status-filter", "");
  await page.waitForFunction(n => window.__inloop.table().rows.length === n, all.total, { timeout: 5000 });
  await page.evaluate(() => window.__inloop.selectRuns([]));
  await page.locator(".runs .row .pick").nth(0).click();
  await page.locator(".runs .row .pick").nth(3).click({ modifiers: ["Shift"] });
  const t2 = await page.evaluate(() => window.__inloop.table());
  eq(t2.selected.slice().sort(), t2.rows.slice(0, 4).sort(), "a checkbox then shift-click on the fourth selects the range");

  // ---- the charts: drawn data is the API's data at the chart's width ----
  const longId = all.runs.find(r => r.name === "long").id;
  const sweepIds = all.runs.filter(r => r.name.startsWith("sweep-lr0.01")).map(r => r.id);
  await page.evaluate(ids => window.__inloop.selectRuns(ids), [longId, ...sweepIds]);
  await page.evaluate(() => window.__inloop.setKeys(["loss", "lr"]));
  // Wait for the charts to hold exactly the new selection: a count alone can match the previous
  // selection (four runs either way) while a chart is still reloading.
  await page.waitForFunction(want => {
    const c = window.__inloop.charts();
    return c.length === 2 && !document.querySelector(".chart.loading") &&
      c.every(x => x.loads > 0 && JSON.stringify(x.series.map(s => s.run).sort()) === JSON.stringify(want));
  }, [longId, ...sweepIds].sort(), { timeout: 15000 });
  const snap = await page.evaluate(() => window.__inloop.charts());
  eq(snap.map(c => c.key), ["loss", "lr"], "one chart per picked key");
  for (const c of snap) {
    const runsParam = c.series.map(s => s.run).join(",");
    const ref = await get(`/api/v1/series?runs=${runsParam}&key=${encodeURIComponent(c.key)}&x=step&width=${c.width}`);
    check(c.width >= 300 && Math.abs(c.width - c.drawnWidth) <= 2, `${c.key}: asked for the plot's pixel width (${c.width} px, plot ${c.drawnWidth} px)`);
    for (const s of c.series) {
      const r = ref.series.find(x => x.run === s.run);
      const xs = r.points.map(p => decode(p[0])), ys = r.points.map(p => decode(p[1]));
      check(sameNumbers(s.x, xs) && sameNumbers(s.y, ys), `${c.key} ${s.name}: drawn ${s.x.length} points = the API's ${xs.length}`);
    }
  }
  const longLoss = snap[0].series.find(s => s.run === longId);
  check(longLoss.downsampled && longLoss.x.length < 30000 && longLoss.x.length > snap[0].width, `the long run is downsampled to ${longLoss.x.length} points`);
  check(Math.max(...longLoss.y) > 40, "the spike survives downsampling (M4 keeps the max)");
  await screenshot(page, "dashboard-charts.png");

  // ---- zoom: drag over the loss chart; the visible range is re-queried at full resolution ----
  const before = await page.evaluate(() => window.__inloop.seriesRequests.length);
  const over = await page.locator(".chart[data-key='loss'] .u-over").boundingBox();
  await page.mouse.move(over.x + over.width * 0.30, over.y + over.height / 2);
  await page.mouse.down();
  await page.mouse.move(over.x + over.width * 0.36, over.y + over.height / 2, { steps: 6 });
  await page.mouse.up();
  await page.waitForFunction(n => window.__inloop.seriesRequests.length >= n + 2 && window.__inloop.charts().every(c => c.zoom && c.loads > 1), before, { timeout: 15000 });
  await page.waitForFunction(() => !document.querySelector(".chart.loading"), null, { timeout: 15000 });
  const zoomed = await page.evaluate(() => window.__inloop.charts());
  const req = (await page.evaluate(() => window.__inloop.seriesRequests)).slice(before);
  const [from, to] = zoomed[0].zoom;
  check(req.some(r => r.key === "loss" && r.from === from && r.to === to && r.width === zoomed[0].width), `re-queried loss for [${from.toFixed(1)}, ${to.toFixed(1)}] at ${zoomed[0].width} px`);
  check(from > 8000 && to < 11500 && to > from, "the range is the dragged part of the x axis");
  const zLong = zoomed[0].series.find(s => s.run === longId);
  const zref = await get(`/api/v1/series?runs=${longId}&key=loss&x=step&from=${from}&to=${to}&width=${zoomed[0].width}`);
  check(sameNumbers(zLong.x, zref.series[0].points.map(p => decode(p[0]))) && sameNumbers(zLong.y, zref.series[0].points.map(p => decode(p[1]))),
    `zoomed long run: drawn ${zLong.x.length} points = the API's for the range`);
  const inRange = longLoss.x.filter(x => x >= from && x <= to).length;
  check(zLong.x.length > inRange * 2, `more detail after zoom (${zLong.x.length} points in the range, ${inRange} before)`);
  const allSteps = zLong.x.filter(x => x >= Math.ceil(from) && x <= Math.floor(to));
  if (!zref.series[0].downsampled) eq(allSteps.length, Math.floor(to) - Math.ceil(from) + 1, "a range narrower than the plot comes back point for point");
  await page.hover(".chart[data-key='loss'] .u-over", { position: { x: over.width * 0.5, y: over.height * 0.5 } });
  check(await page.locator(".chart[data-key='loss'] .tip").isVisible(), "hovering shows the values");
  await screenshot(page, "dashboard-zoomed.png");
  await page.dblclick(".chart[data-key='loss'] .u-over");
  await page.waitForFunction(() => window.__inloop.charts().every(c => c.zoom === null), null, { timeout: 5000 });
  check(true, "double-click resets the zoom");

  const shared = new URL(page.url()).searchParams;
  eq([shared.get("runs")?.split(",").sort(), shared.get("keys")], [[longId, ...sweepIds].sort(), "loss,lr"], "the URL names the charted runs and keys");

  // ---- the metrics and columns menus ----
  await page.click("#keys-menu summary");
  await page.locator("#keys-list input[value='lr']").uncheck();
  await page.waitForFunction(() => window.__inloop.charts().map(c => c.key).join() === "loss", null, { timeout: 10000 })
    .then(() => check(true, "unticking lr in the metrics menu removes its chart"), () => check(false, "unticking lr in the metrics menu removes its chart"));
  await page.locator("#keys-list input[value='lr']").check();
  await page.waitForFunction(() => window.__inloop.charts().length === 2 && !document.querySelector(".chart.loading"), null, { timeout: 10000 });
  await page.click("#keys-menu summary");
  await page.click("#cols-menu summary");
  await page.locator("#cols-list input[value='seed']").check();
  check(await page.locator(".runs-head [data-sort='param.seed']").count() === 1, "ticking seed in the columns menu adds its column");
  await page.click("header.top .brand");  // a click elsewhere closes the menu
  check(!(await page.locator("#cols-menu").evaluate(d => d.open)), "a click outside closes the menu");
  await page.click(".runs-head [data-sort='param.seed']");
  const bySeed = await get("/api/v1/runs?limit=1000&sort=param.seed&order=desc");
  const seedOf = new Map(all.runs.map(r => [r.id, r.params.seed ?? null]));
  eq((await page.evaluate(() => window.__inloop.table())).rows.map(id => seedOf.get(id)), bySeed.runs.map(r => r.params.seed ?? null),
    "the seed column sorts like sort=param.seed&order=desc (runs without a seed last)");

  // ---- a wider window: the charts re-query at their new pixel width ----
  const narrow = (await page.evaluate(() => window.__inloop.charts()))[0].width;
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.waitForFunction(w => window.__inloop.charts().every(c => c.width > w) && !document.querySelector(".chart.loading"), narrow, { timeout: 10000 });
  const wide = (await page.evaluate(() => window.__inloop.charts())).find(c => c.key === "loss");
  const wref = await get(`/api/v1/series?runs=${wide.series.map(s => s.run).join(",")}&key=loss&x=step&width=${wide.width}`);
  check(Math.abs(wide.width - wide.drawnWidth) <= 2 && wide.series.every(s => { const r = wref.series.find(x => x.run === s.run);
    return sameNumbers(s.x, r.points.map(p => decode(p[0]))) && sameNumbers(s.y, r.points.map(p => decode(p[1]))); }),
    `resized from ${narrow} to ${wide.width} px: re-queried and drawn as the API answers at that width`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForFunction(w => window.__inloop.charts().every(c => c.width === w) && !document.querySelector(".chart.loading"), narrow, { timeout: 10000 });

  // ---- x by wall time; smoothing and log y change the drawing, never the data ----
  await page.selectOption("#x-mode", "time");
  await page.waitForFunction(() => window.__inloop.charts().every(c => c.x === "time") && !document.querySelector(".chart.loading"), null, { timeout: 15000 });
  await page.waitForTimeout(200);
  const timed = (await page.evaluate(() => window.__inloop.charts())).find(c => c.key === "loss");
  const tref = await get(`/api/v1/series?runs=${timed.series.map(s => s.run).join(",")}&key=loss&x=time&width=${timed.width}`);
  check(timed.series.every(s => { const r = tref.series.find(x => x.run === s.run); return sameNumbers(s.x, r.points.map(p => decode(p[0]))) && sameNumbers(s.y, r.points.map(p => decode(p[1]))); }),
    "x=time: drawn data = the API's");
  check(timed.series.every(s => s.x.length === 0 || s.x[0] > 1.5e9), "x=time is wall-clock seconds");
  await page.fill("#smoothing", "0.9");
  await page.dispatchEvent("#smoothing", "input");
  await page.check("#log-y");
  const smoothed = (await page.evaluate(() => window.__inloop.charts())).find(c => c.key === "loss");
  check(sameNumbers(smoothed.series[0].y, timed.series[0].y), "smoothing and log y leave the hook's (API) data alone");
  await screenshot(page, "dashboard-time-smoothed-log.png");
  await page.uncheck("#log-y");
  await page.fill("#smoothing", "0");
  await page.dispatchEvent("#smoothing", "input");
  await page.selectOption("#x-mode", "step");
  await page.waitForFunction(() => window.__inloop.charts().every(c => c.x === "step") && !document.querySelector(".chart.loading"), null, { timeout: 15000 });

  // ---- approve the pending remedy from the timeline: the run resumes and finishes ----
  const askRun = all.runs.find(r => r.name === "needs-approval");
  await page.evaluate(ids => window.__inloop.selectRuns(ids), [askRun.id, longId]);
  await page.waitForFunction(id => window.__inloop.charts().every(c => c.series.some(s => s.run === id)) && !document.querySelector(".chart.loading"), askRun.id, { timeout: 15000 });
  const askBefore = (await page.evaluate(() => window.__inloop.charts()))[0].series.find(s => s.run === askRun.id);
  check(askBefore.y.some(v => Number.isNaN(v)), "the NaN of the ask run is in the drawn data (marked on the chart)");
  eq(await page.evaluate(() => window.__inloop.table().focused), askRun.id, "the run with a pending action is focused at load");
  await page.locator(`.pend[data-action='${pending.id}'] input`).fill("approved from the dashboard test");
  await page.click(`.pend[data-action='${pending.id}'] button.approve`);
  const decided = await waitFor("the action to leave pending", async () => {
    const a = (await get(`/api/v1/actions?run=${askRun.id}`)).actions.find(x => x.id === pending.id);
    return a && a.state !== "pending" ? a : null;
  }, 15000);
  check(["approved", "applied"].includes(decided.state), `the action is ${decided.state} after the click`);
  eq(decided.note, "approved from the dashboard test", "the note typed on the page is kept");
  let timer;
  const code = await Promise.race([askExit, new Promise(r => { timer = setTimeout(() => r("timeout"), 60000); })]);
  clearTimeout(timer);
  eq(code, 0, "the approved run resumed and finished (exit code)");
  const shown = await get(`/api/v1/runs/${askRun.id}`);
  eq(shown.run.status, "finished", "run status after the remedy");
  eq(shown.attempts.length, 2, "two attempts: the first and the resumed one");
  await page.waitForFunction(() => document.querySelector("#tl-status")?.textContent === "finished"
    && document.querySelector("#tl-attempts")?.textContent === "2 attempts", null, { timeout: 15000 });
  check(true, "the timeline shows the run finished after two attempts");
  check(await page.locator(`.actions li[data-action='${pending.id}']`).getAttribute("data-state") !== "pending", "the action is no longer pending on the page");
  eq(await page.locator(".pend").count(), 0, "no approve/deny buttons left");
  await page.waitForFunction(id => document.querySelector(`.runs .row[data-id='${id}'] [data-status]`)?.getAttribute("data-status") === "finished", askRun.id, { timeout: 5000 }).catch(() => {});
  eq(await page.locator(`.runs .row[data-id='${askRun.id}'] [data-status]`).getAttribute("data-status"), "finished", "the table row's status updated");
  await page.waitForFunction(id => { const s = window.__inloop.charts()[0].series.find(x => x.run === id); return s && s.x.includes(400); }, askRun.id, { timeout: 15000 })
    .then(() => check(true, "the resumed attempt's points reached the chart without a reload"), () => check(false, "the resumed attempt's points reached the chart without a reload"));
  check(await page.evaluate(() => window.__inloop.sse.opened && window.__inloop.sse.messages > 0), "the page follows /api/v1/stream");
  const resumed = (await page.evaluate(() => window.__inloop.charts())).find(c => c.key === "loss").series.find(s => s.run === askRun.id);
  check(resumed.x.every((v, i) => i === 0 || v > resumed.x[i - 1]), "after the rewind the drawn curve is stitched like the API's (steps ascending)");
  await screenshot(page, "dashboard-approved.png");
  await page.click("ol.events li[data-kind='nonfinite']");
  await page.waitForFunction(() => window.__inloop.charts().every(c => c.zoom && c.zoom[0] <= 40 && c.zoom[1] >= 40) && !document.querySelector(".chart.loading"), null, { timeout: 10000 })
    .then(() => check(true, "clicking the NaN on the timeline zooms the charts to its step"), () => check(false, "clicking the NaN on the timeline zooms the charts to its step"));
  await screenshot(page, "dashboard-jump-to-nan.png");
  await page.click("#reset-zoom");

  // ---- deny: a pending action written into the catalog as the supervisor would (approve_test.sh) ----
  execFileSync(PY, ["-c", `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO actions(run_id, created_at, action, trigger, step, reason, state, decided_by, decided_at, note, data) "
           "VALUES(?,?,?,?,?,?,'pending','',0,'',?)", (sys.argv[2], time.time(), "lr_cut", "loss_spike", 10000,
           "loss spike at step 10000 recurred", '{"lr_scale": 0.5}'))
db.commit()
`, path.join(store, "inloop.db"), longId]);
  await page.reload();
  await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector("#pending-badge").hidden, null, { timeout: 10000 });
  eq(await page.locator("#pending-badge").textContent(), "1 pending", "the header counts the pending action");
  await page.click("#pending-badge");
  await page.waitForFunction(id => window.__inloop.table().focused === id && document.querySelector(".pend button.deny"), longId, { timeout: 10000 });
  const denyId = Number(await page.locator(".pend").first().getAttribute("data-action"));
  await page.click(`.pend[data-action='${denyId}'] button.deny`);
  const denied = await waitFor("the action to be denied", async () => {
    const a = (await get(`/api/v1/actions?run=${longId}`)).actions.find(x => x.id === denyId);
    return a && a.state === "denied" ? a : null;
  }, 10000);
  check(denied.decided_by.length > 0, `denied from the page (decided_by ${denied.decided_by})`);
  await page.waitForFunction(id => document.querySelector(`.actions li[data-action='${id}']`)?.dataset.state === "denied"
    && !document.querySelector(".pend") && document.querySelector("#pending-badge").hidden, denyId, { timeout: 10000 })
    .then(() => check(true, "the timeline shows it denied, no buttons, no pending badge"), () => check(false, "the timeline shows it denied, no buttons, no pending badge"));
  const twice = await fetch(`${srv.base}/api/v1/actions/${denyId}/approve`,
    { method: "POST", body: "{}", headers: { ...srv.headers, "Content-Type": "application/json" } });
  eq(twice.status, 409, "deciding again is refused (409)");

  // ---- theme ----
  eq(await page.evaluate(() => document.documentElement.dataset.theme), "dark", "prefers-color-scheme dark gives the dark theme");
  const bgDark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.click("#theme-toggle");
  eq(await page.evaluate(() => document.documentElement.dataset.theme), "light", "the toggle switches to light");
  check(await page.evaluate(() => getComputedStyle(document.body).backgroundColor) !== bgDark, "the background changes with the theme");
  await screenshot(page, "dashboard-light.png");
  await page.reload();
  await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  eq(await page.evaluate(() => document.documentElement.dataset.theme), "light", "the chosen theme is remembered");
  eq(errors, [], "no script errors through the whole session");
  await page.close();

  // ---- an empty store: a page that says what to do, no errors ----
  const esrv = await serve(path.join(work, "empty-store"));
  const epage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const eerrors = [];
  epage.on("pageerror", e => eerrors.push(String(e)));
  epage.on("response", r => { if (r.status() >= 400) eerrors.push(`${r.status()} ${r.url()}`); });
  await epage.goto(esrv.url("/"));
  await epage.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  check((await epage.locator("#charts .empty").textContent()).includes("No runs in this store yet"), "an empty store says how to start a run");
  eq(await epage.locator("#runs-count").textContent(), "0 of 0 runs · 0 selected", "an empty table");
  await screenshot(epage, "dashboard-empty-store.png");
  // A run started while the page is open appears in the table and, nothing else being charted, on the charts.
  const first = spawn(BIN, ["run", "--store", path.join(work, "empty-store"), "--name", "first", "--policy", "observe", "--", PY, "-c",
    "import time\nfor i in range(1, 61):\n    print('step=%d loss=%f' % (i, 2.0 / i), flush=True)\n    time.sleep(0.05)"],
    { stdio: "ignore", env: { ...process.env, NO_COLOR: "1" } });
  servers.push(first);
  await epage.waitForFunction(() => window.__inloop.table().rows.length === 1 && window.__inloop.charts().some(c => c.series.some(s => s.x.length > 0)), null, { timeout: 20000 })
    .then(() => check(true, "a run started after the page opened is listed and charted without a reload"),
      () => check(false, "a run started after the page opened is listed and charted without a reload"));
  if (first.exitCode === null && first.signalCode === null) await new Promise(r => first.on("exit", r));
  eq(eerrors, [], "an empty store: no errors");
  await epage.close();
  esrv.proc.kill("SIGTERM");

  // ---- a server with a token: the page passes ?token= on to its files, the API and the stream ----
  const tsrv = await serve(store, "s3cret-token");
  const tpage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const terrors = [];
  tpage.on("pageerror", e => terrors.push(String(e)));
  tpage.on("response", r => { if (r.status() >= 400) terrors.push(`${r.status()} ${r.url()}`); });
  await tpage.goto(`${tsrv.base}/?token=s3cret-token`);
  await tpage.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  await tpage.waitForFunction(() => window.__inloop.sse.opened, null, { timeout: 10000 }).catch(() => {});
  const tcharts = await tpage.evaluate(() => window.__inloop.charts());
  check(tcharts.length > 0 && tcharts[0].series.some(s => s.x.length > 0), "with a token: the charts load");
  check(await tpage.evaluate(() => window.__inloop.sse.opened), "with a token: the stream opens (?token=)");
  eq(terrors, [], "with a token: no refused request");
  const bare = await fetch(`${tsrv.base}/api/v1/runs`);
  eq(bare.status, 401, "with a token: a request without it is refused");
  // The page's first request with ?token= left an HttpOnly cookie: the bare URL keeps working.
  const cookies = await tpage.context().cookies(tsrv.base);
  const jar = cookies.find(c => c.name === `inloop_token_${new URL(tsrv.base).port}`);
  check(jar && jar.httpOnly && jar.sameSite === "Strict" && jar.value === "s3cret-token", "with a token: an HttpOnly SameSite=Strict cookie holds it");
  check(!(await tpage.evaluate(() => document.cookie)).includes("s3cret"), "with a token: the page's script cannot read the cookie");
  await tpage.goto(`${tsrv.base}/`);
  await tpage.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  await tpage.waitForFunction(() => window.__inloop.sse.opened, null, { timeout: 10000 }).catch(() => {});
  check(await tpage.evaluate(() => window.__inloop.sse.opened), "with a token: the bare URL works from the cookie (API and stream)");
  eq(terrors, [], "with a token: no refused request from the cookie either");
  await tpage.close();
  tsrv.proc.kill("SIGTERM");
} finally {
  await browser.close();
}
srv.proc.kill("SIGTERM");

// ======================================================================= first meaningful paint
// 100 runs x 100,000 points (a long CSV through `inloop import`), all charted on the landing page
// (?runs=...&keys=loss). Printed and recorded in bench/RESULTS.md, not asserted (target 1.5 s).
if (process.env.INLOOP_DASHBOARD_PERF !== "0") {
  const RUNS = 100, POINTS = 100000;
  const csv = path.join(work, "perf.csv");
  const fd = fs.openSync(csv, "w");
  fs.writeSync(fd, "run,key,step,value,timestamp\n");
  for (let r = 0; r < RUNS; r++) {
    const rows = new Array(POINTS);
    for (let s = 0; s < POINTS; s++)
      rows[s] = `perf-${String(r).padStart(3, "0")},loss,${s},${(2 * Math.exp(-s / (15000 + 100 * r)) + 0.5 + 0.03 * Math.sin(s * 0.013 + r)).toFixed(5)},${1.7e9 + r * 1e4 + s * 0.05}`;
    fs.writeSync(fd, rows.join("\n") + "\n");
  }
  fs.closeSync(fd);
  const perfStore = path.join(work, "perf-store");
  let t = Date.now();
  inloop(["import", "--store", perfStore, csv]);
  console.log(`perf: imported ${RUNS} runs x ${POINTS} points in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  fs.rmSync(csv);
  const psrv = await serve(perfStore);
  const pget = api(psrv);
  const runs = (await pget(`/api/v1/runs?limit=${RUNS}`)).runs;
  eq(runs.length, RUNS, "perf store: runs");
  const url = psrv.url(`/?runs=${runs.map(r => r.id).join(",")}&keys=loss`);
  const pbrowser = await launch();
  try {
    const figures = [];
    for (let i = 0; i < 3; i++) {
      const page = await pbrowser.newPage({ viewport: { width: 1280, height: 800 } });
      t = Date.now();
      await page.goto(url);
      await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 60000 });
      const wall = Date.now() - t;
      const m = await page.evaluate(() => ({ readyAt: window.__inloop.readyAt, script: window.__inloop.firstPaintMs,
        marks: window.__inloop.marks, timing: window.__inloop.charts()[0].timing,
        nav: (({ responseEnd, domContentLoadedEventEnd }) => ({ responseEnd, domContentLoadedEventEnd }))(performance.getEntriesByType("navigation")[0]),
        req: performance.getEntriesByType("resource").filter(e => e.name.includes("/api/v1/series")).map(e => e.duration),
        charts: window.__inloop.charts().map(c => ({ key: c.key, width: c.width, n: c.series.length, pts: c.series.reduce((a, s) => a + s.x.length, 0),
          total: c.series.reduce((a, s) => a + s.total_points, 0) })) }));
      figures.push({ wall, ...m });
      console.log(`perf: load ${i + 1}: first meaningful paint ${m.readyAt.toFixed(0)} ms after navigation start ` +
        `(${m.script.toFixed(0)} ms from script start, ${wall} ms wall as Playwright sees it); series request ${m.req.map(d => d.toFixed(0)).join("/")} ms; ` +
        `${m.charts[0].n} runs, ${m.charts[0].pts} points drawn of ${m.charts[0].total} at ${m.charts[0].width} px`);
      const r0 = (x) => Math.round(x);
      console.log(`perf:   milestones (ms since navigation start): html ${r0(m.nav.responseEnd)}, script ${r0(m.marks.script)}, runs listed ${r0(m.marks.runs)}, ` +
        `series asked ${r0(m.timing.request)}, answered+decoded ${r0(m.timing.answered)}, drawn ${r0(m.timing.drawn)}, painted ${r0(m.marks.painted)}`);
      if (i === 0) {
        eq(m.charts.map(c => c.key), ["loss"], "perf: one chart for ?keys=loss");
        eq(m.charts[0].n, RUNS, "perf: every run overlaid");
        eq(m.charts[0].total, RUNS * POINTS, "perf: the chart covers every point");
        await screenshot(page, "dashboard-100-runs.png");
      }
      await page.close();
    }
    const sorted = figures.map(f => f.readyAt).sort((a, b) => a - b);
    console.log(`perf: first meaningful paint, 100 runs x 100,000 points: median ${sorted[1].toFixed(0)} ms (min ${sorted[0].toFixed(0)}, max ${sorted[2].toFixed(0)}) in headless chromium`);
  } finally {
    await pbrowser.close();
    psrv.proc.kill("SIGTERM");
  }

  // ---- 5,000 runs in the table: virtual rows, sort and filter in the page ----
  const MANY = 5000;
  const manyCsv = path.join(work, "many.csv");
  const rows = ["run,key,step,value"];
  for (let r = 0; r < MANY; r++) for (let s = 0; s < 5; s++) rows.push(`many-${String(r).padStart(4, "0")},loss,${s},${(1 + (r % 97) / 100 + 1 / (s + 1)).toFixed(4)}`);
  fs.writeFileSync(manyCsv, rows.join("\n") + "\n");
  const manyStore = path.join(work, "many-store");
  t = Date.now();
  inloop(["import", "--store", manyStore, manyCsv]);
  console.log(`perf: imported ${MANY} runs in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const msrv = await serve(manyStore);
  const mbrowser = await launch();
  try {
    const page = await mbrowser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(msrv.url("/"));
    await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 60000 });
    const ready = await page.evaluate(() => window.__inloop.readyAt);
    eq((await page.evaluate(() => window.__inloop.table())).rows.length, MANY, "5,000 runs: every run is in the table");
    const dom = await page.locator(".runs .row").count();
    check(dom < 200, `5,000 runs: only the rows in view are in the DOM (${dom})`);
    const sortMs = await page.evaluate(() => { const t0 = performance.now(); document.querySelector(".runs-head [data-sort='name']").click(); return performance.now() - t0; });
    eq(await page.locator(".runs .row").first().locator("[data-col='name']").textContent(), "many-0000", "5,000 runs: sorted by name");
    const filterMs = await page.evaluate(() => { const f = document.getElementById("filter"); const t0 = performance.now(); f.value = "many-49*"; f.dispatchEvent(new Event("input")); return new Promise(r => setTimeout(() => r(performance.now() - t0), 400)); });
    await page.waitForFunction(() => window.__inloop.table().rows.length === 100, null, { timeout: 5000 });
    check(true, "5,000 runs: the filter leaves the 100 matching runs");
    await page.evaluate(() => { const f = document.getElementById("filter"); f.value = ""; f.dispatchEvent(new Event("input")); });
    await page.waitForFunction(n => window.__inloop.table().rows.length === n, MANY, { timeout: 5000 });
    const scrollMs = await page.evaluate(() => new Promise(r => { const s = document.getElementById("runs-scroll"); const t0 = performance.now();
      s.scrollTop = 28 * 4000; requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now() - t0))); }));
    const at = Number(await page.locator(".runs .row").first().getAttribute("data-index"));
    check(at > 3900 && at < 4000, `5,000 runs: scrolled to row ${at}`);
    await screenshot(page, "dashboard-5000-runs.png");
    console.log(`perf: 5,000 runs: landing ready at ${ready.toFixed(0)} ms, sort by name ${sortMs.toFixed(0)} ms, scroll to row 4,000 ${scrollMs.toFixed(0)} ms (two frames), ${dom} rows in the DOM`);
  } finally {
    await mbrowser.close();
    msrv.proc.kill("SIGTERM");
  }
}
done();
