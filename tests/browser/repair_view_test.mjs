// The dashboard shows the repair (issue 15): a real supervised run (a stdlib script that prints
// `step=N loss=X`, announces its checkpoints through the Python SDK and hits a NaN from the data
// of step 40) is rolled back to the step-30 checkpoint with data 31-40 skipped. The page must draw
// what GET /api/v1/runs/{id}/repair says: the abandoned steps of attempt 1 faded (exactly the
// points /api/v1/series?abandoned=1 gives, spanning the abandoned range), the skip window as a
// band, one marker per finding episode (its kind in the hover), one tick per checkpoint, and the
// summary line above the charts as the API words it, with the goodput. A clean run shows none.
import fs from "node:fs";
import path from "node:path";
import { api, check, done, eq, inloop, launch, serve, tempDir, waitFor, SRC } from "./browser.mjs";

const PY = process.env.INLOOP_PYTHON || "/usr/bin/python3";
const work = tempDir("inloop-repair-view-");
const store = path.join(work, "store");

fs.writeFileSync(path.join(work, "train.py"), `
import argparse, os, sys, time
import inloop
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=60)
p.add_argument("--resume")
p.add_argument("--skip-from", type=int, default=0)
p.add_argument("--skip-to", type=int, default=0)
p.add_argument("--clean", action="store_true")
a = p.parse_args()
start = int(open(a.resume).read()) if a.resume else 0
os.makedirs("ckpt", exist_ok=True)
for step in range(start + 1, a.steps + 1):
    data = step + (a.skip_to - a.skip_from if a.skip_from <= step else 0)
    loss = 2.0 + 1.0 / step + 0.001 * (step % 3)
    if data == 40 and not a.clean:
        loss = float("nan")  # the batch at data index 40 is poisoned
    print("step=%d loss=%s" % (step, loss), flush=True)
    if loss != loss:
        time.sleep(20)  # the supervisor ends this attempt meanwhile (at once, normally)
    if step % 10 == 0 and not a.clean:
        tmp = os.path.abspath("ckpt/step-%d.pt.tmp" % step)
        with open(tmp, "w") as f:
            f.write(str(step))
        os.replace(tmp, tmp[:-4])
        inloop.checkpoint(tmp[:-4], step)
    time.sleep(0.01 if a.clean else 0.2 if 30 < step <= 40 else 0.03)
`);
fs.writeFileSync(path.join(work, "inloop.toml"), `[remedy]
checkpoint_glob = "ckpt/step-*.pt"
checkpoint_settle_seconds = 0.5
checkpoint_args = ["--resume", "{checkpoint}"]
skip_args = ["--skip-from", "{skip_from}", "--skip-to", "{skip_to}"]
`);
const env = { PYTHONPATH: path.join(SRC, "python") };
inloop(["run", "--store", store, "--name", "fixed", "--", PY, "train.py"], { cwd: work, env });
inloop(["run", "--store", store, "--name", "clean", "--", PY, "train.py", "--clean", "--steps", "30"], { cwd: work, env });
const report = JSON.parse(inloop(["report", "--store", store, "fixed", "--json"], { cwd: work }));

const srv = await serve(store);
const get = api(srv);
const runs = (await get("/api/v1/runs")).runs;
const fixedId = runs.find(r => r.name === "fixed").id, cleanId = runs.find(r => r.name === "clean").id;
const view = await get(`/api/v1/runs/${fixedId}/repair`);
const cleanView = await get(`/api/v1/runs/${cleanId}/repair`);

// ---- the API: the report's facts, shaped for drawing ----
eq(view.attempts.map(a => a.number), [1, 2], "two attempts");
const remedy = report.remedies[0];
eq(remedy.action, "rollback_skip", "the doctor rolled back and skipped");
eq(view.abandoned, [{ attempt: 1, redone_by: 2, step_lo: remedy.start_step, step_hi: report.attempts[0].last_step }],
  "abandoned: attempt 1 from the restart step to its last step");
eq(view.abandoned[0].step_lo, 31, "the restart step follows the step-30 checkpoint");
eq(view.skipped.map(s => [s.lo, s.hi]), [[remedy.skip[0], remedy.skip[1] - 1]], "the skip window is the remedy's");
eq(view.checkpoints.map(c => c.step), [10, 20, 30, 40, 50, 60], "one checkpoint per announced step");
check(view.episodes.some(e => e.kind === "nonfinite" && e.step_lo === 40 && e.key === "loss"), "the NaN is an episode on loss at step 40");
const o = remedy.outcome;
const want = `NaN at ${o.onset} → rolled back to ${remedy.checkpoint_step}, skipped ${remedy.skip[0]}-${remedy.skip[1] - 1}, cost ${o.lost_steps} ${o.lost_steps === 1 ? "step" : "steps"} / `;
check(view.summary.startsWith(want), `summary in the report's numbers: "${view.summary}" starts with "${want}"`);
check(report.headline.includes(`cost ${o.lost_steps} steps run again`), "the report's headline has the same cost");
eq(view.goodput.lost_steps, report.goodput.lost_steps, "goodput as the report's");
eq(cleanView.summary, "", "a clean run has no summary");
eq([cleanView.abandoned, cleanView.skipped, cleanView.checkpoints, cleanView.episodes], [[], [], [], []], "nor anything else to draw");

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: "dark" });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text()); });
  page.on("response", r => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });

  // ---- the repaired run ----
  await page.goto(srv.url(`/?runs=${fixedId}&keys=loss`));
  await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 60000 });
  const drawn = async () => (await page.evaluate(() => window.__inloop.charts()))[0];
  await waitFor("the repair drawn on the loss chart", async () => {
    const c = await drawn();
    return c && c.loads > 0 && c.drawn.bands.length > 0 && (await page.evaluate(() => window.__inloop.repair().lines.length)) > 0;
  }, 60000);
  const c = await drawn();
  const s = c.series.find(x => x.run === fixedId);
  const ref = (await get(`/api/v1/series?runs=${fixedId}&key=loss&x=step&width=${c.width}&abandoned=1`)).series[0];
  const refAbandoned = ref.abandoned.flatMap(a => a.points.map(p => p[0]));
  eq(s.abandoned.flatMap(a => a.x), refAbandoned, "the chart holds the API's abandoned points");
  const faded = c.drawn.faded[fixedId] || [];
  eq(faded, refAbandoned, "every abandoned point is drawn faded");
  eq([Math.min(...faded), Math.max(...faded)], [view.abandoned[0].step_lo, view.abandoned[0].step_hi], "the faded points span the abandoned range");
  check(!s.x.some((x, i) => x >= view.abandoned[0].step_lo && x <= view.abandoned[0].step_hi && !Number.isFinite(s.y[i])),
    "the surviving curve has no NaN in the redone steps");
  eq(c.drawn.bands.map(b => [b.lo, b.hi]), view.skipped.map(b => [b.lo, b.hi]), "one band per skip window, over its steps");
  eq(c.drawn.markers.length, view.episodes.length, "one marker per episode");
  eq(c.drawn.markers.map(m => m.kind), view.episodes.map(e => e.kind), "the markers are the episodes");
  eq(c.drawn.ticks.map(t => t.x), view.checkpoints.map(k => k.step), "one tick per checkpoint");
  const rep = await page.evaluate(() => window.__inloop.repair());
  eq(rep.lines.map(l => l.summary), [view.summary], "the line above the charts is the API's summary");
  check(rep.lines[0].goodput.includes(`ETTR ${(100 * view.goodput.ettr).toFixed(1)}%`) &&
    rep.lines[0].goodput.includes(`lost ${view.goodput.lost_steps} steps`), `goodput beside it: ${rep.lines[0].goodput}`);
  eq(await page.locator("#repair-summary .what").textContent(), view.summary, "the summary is on the page");

  // Hover on the NaN's marker: its kind in the tooltip. A redraw can hide the tooltip between a
  // mouse move and a read (seen on loaded CI runs), so the page itself records every tooltip that
  // names the episode the moment it is shown, and the mouse is moved onto the marker (through
  // Playwright's hover: scrolled into view, not covered) again on every poll, with the chart's box
  // and x range re-read. The marker's hit test uses x only: hover at mid-height.
  await page.evaluate(() => {
    window.__tipSeen = "";
    const look = () => {
      const t = document.querySelector(".chart[data-key='loss'] .tip");
      if (t && !t.hidden && t.textContent.includes("nonfinite")) window.__tipSeen = t.textContent;
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  const chartSel = ".chart[data-key='loss'] .u-over";
  const nanEp = view.episodes.find(e => e.kind === "nonfinite");
  let nudge = 0;
  const tip = await waitFor("the marker's tooltip", async () => {
    const box = await page.locator(chartSel).boundingBox();
    const [x0, x1] = (await drawn()).xRange;
    const rx = (nanEp.step_lo - x0) / (x1 - x0) * box.width;
    nudge = 1 - nudge;
    await page.locator(chartSel).hover({ position: { x: rx + (nudge ? -1 : 1), y: box.height / 2 }, timeout: 10000 });
    await page.locator(chartSel).hover({ position: { x: rx, y: box.height / 2 }, timeout: 10000 });
    return await page.evaluate(() => window.__tipSeen || null);
  }, 30000).catch(() => "");
  check(tip.includes("nonfinite") && tip.includes("step 40"), `the hover names the episode: ${tip}`);
  const shot = path.join(work, "repair-view.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // ---- a clean run: no summary, no band, nothing faded, no marker, no tick ----
  await page.goto(srv.url(`/?runs=${cleanId}&keys=loss`));
  await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 60000 });
  await waitFor("the clean run's repair view", () => page.evaluate(id => window.__inloop.repair().views.some(v => v.run === id), cleanId), 60000);
  const cc = await drawn();
  eq([cc.drawn.bands, cc.drawn.markers, cc.drawn.ticks, cc.drawn.faded], [[], [], [], {}], "a clean run: nothing of a repair is drawn");
  eq((await page.evaluate(() => window.__inloop.repair())).lines, [], "and no summary line");
  check(await page.locator("#repair-summary").isHidden(), "the summary box is hidden");
  check(cc.series[0].x.length === 30, "its curve is drawn");
  await page.screenshot({ path: path.join(work, "repair-view-clean.png"), fullPage: true });
  eq(errors, [], "no script or HTTP errors");
  eq(await page.evaluate(() => window.__inloop.errors), [], "the page reported no errors");
} finally {
  await browser.close();
  srv.proc.kill("SIGTERM");  // its pipes would keep the test alive
}
// INLOOP_KEEP_WORK=1 keeps the store and the screenshots (repair-view.png, repair-view-clean.png).
if (!process.env.INLOOP_KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
done();
