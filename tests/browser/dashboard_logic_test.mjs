// The dashboard's pure pieces, bundled from ui/src by esbuild and run in node (no browser, no
// server): the runs filter language, the EMA smoothing and the number/tick/duration text. The
// behaviour in a real page is dashboard_test.mjs; this pins the edge cases cheaply.
import { createRequire } from "node:module";
import path from "node:path";
import { check, done, eq, SRC } from "./browser.mjs";

const require = createRequire(path.join(SRC, "ui/package.json"));
const esbuild = require("esbuild");
const out = await esbuild.build({
  stdin: { contents: 'export { makeFilter } from "./run_filter"; export { ema } from "./smoothing"; export * from "./format";',
    resolveDir: path.join(SRC, "ui/src"), loader: "ts" },
  bundle: true, format: "esm", platform: "neutral", write: false, logLevel: "error",
});
const ui = await import("data:text/javascript;base64," + Buffer.from(out.outputFiles[0].text).toString("base64"));

// ---- filter ----
const run = (name, params = {}, extra = {}) => ({ id: extra.id ?? `20260101-000000-${name.length.toString(16).padStart(4, "0")}`,
  name, status: extra.status ?? "finished", tags: extra.tags ?? [], params, last: {}, created_at: 0, ended_at: null, duration_s: null, attempts: 1 });
const runs = [
  run("sweep-lr0.01-s1", { lr: "0.01", seed: "1" }, { tags: ["sweep"] }),
  run("sweep-lr0.03-s2", { lr: "0.03", seed: "2" }, { tags: ["sweep", "best"] }),
  run("Baseline", { lr: "1e-2" }, { status: "failed" }),
  run("live", {}, { status: "running", id: "20260101-000000-beef" }),
];
const names = (text, status = "") => runs.filter(ui.makeFilter(text, status)).map(r => r.name);
eq(names(""), runs.map(r => r.name), "empty filter keeps all");
eq(names("sweep"), ["sweep-lr0.01-s1", "sweep-lr0.03-s2"], "a word matches a part of the name");
eq(names("BASE"), ["Baseline"], "case-insensitive");
eq(names("sweep*s2"), ["sweep-lr0.03-s2"], "glob over the whole name");
eq(names("sweep-lr0.0?-s1"), ["sweep-lr0.01-s1"], "? is one character, the dot is literal");
eq(names("*s"), [], "a glob must match the whole name");
eq(names("Sweep*"), [], "a glob is case-sensitive, as the server's name= glob");
eq(names("sweep-lr0.0[13]-s?"), ["sweep-lr0.01-s1", "sweep-lr0.03-s2"], "[...] classes");
eq(names("sweep-lr0.0[!1]-s?"), ["sweep-lr0.03-s2"], "[!...] negated classes");
eq(names("sweep[0"), [], "an unclosed class matches nothing (and does not throw)");
eq(names("lr=0.01"), ["sweep-lr0.01-s1", "Baseline"], "param equal as text or as a number (1e-2 = 0.01)");
eq(names("lr>0.02"), ["sweep-lr0.03-s2"], "numeric param bound");
eq(names("lr<1"), ["sweep-lr0.01-s1", "sweep-lr0.03-s2", "Baseline"], "runs without the param fail a bound");
eq(names("tag:best"), ["sweep-lr0.03-s2"], "tag");
eq(names("status:failed"), ["Baseline"], "status term");
eq(names("", "running"), ["live"], "status menu");
eq(names("sweep tag:sweep seed=2"), ["sweep-lr0.03-s2"], "every term must hold");
eq(names("20260101-000000-beef"), ["live"], "an id prefix matches");
eq(names("a(b"), [], "regex characters in a word are plain text");

// ---- EMA ----
eq(ui.ema([], 0.6), [], "empty");
eq(ui.ema([1, 2, 3], 0), [1, 2, 3], "weight 0 is the raw curve");
const e = ui.ema([2, 2, 2, 2], 0.9);
check(e.every(v => Math.abs(v - 2) < 1e-12), "debiased: a constant stays constant from the first point");
const g = ui.ema([1, NaN, 3, Infinity, 5], 0.5);
eq(g[1], null, "NaN is a gap");
eq(g[3], null, "Infinity is a gap");
check(Math.abs(g[2] - (0.5 * 0.5 * 1 + 0.5 * 3) / (1 - 0.25)) < 1e-12, "non-finite points do not enter the average");
check(g[4] > g[2] && g[4] < 5, "the average follows the curve");

// ---- number text ----
eq(ui.fmtNumber(NaN), "NaN", "NaN text");
eq(ui.fmtNumber(-Infinity), "-∞", "-Infinity text");
eq(ui.fmtNumber(0.000123456), "1.235e-4", "small numbers in exponent form");
eq(ui.fmtNumber(2.345678), "2.3457", "five significant digits");
eq(ui.fmtTick(0.00085), "8.5e-4", "ticks: short exponent form");
eq(ui.fmtTick(0.0009), "9e-4", "ticks: no trailing zeros");
eq(ui.fmtTick(2.5e7), "2.5e7", "ticks: large");
eq(ui.fmtTick(0.25), "0.25", "ticks: plain");
eq(ui.fmtTick(null), "", "ticks: uPlot's unlabelled log splits");
eq(ui.fmtDuration(5.25), "5.3s", "seconds");
eq(ui.fmtDuration(3725), "1h02m", "hours");
eq(ui.fmtDuration(null), "", "unknown duration");
eq(ui.colourAt(0) !== ui.colourAt(1) && ui.colourAt(12) !== ui.colourAt(13), true, "distinct colours past the palette");
done();
