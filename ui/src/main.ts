// The dashboard's entry point: lays out the page (runs table | charts | timeline), wires the
// controls, loads the landing view (the most recent runs charted at once), follows live runs over
// server-sent events and exposes window.__inloop for the browser tests. All data comes from
// /api/v1 through api.ts; nothing is fetched from anywhere else.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { listRuns, paramKeys, pendingActions, runRepair, seriesKeys, seriesRequests, streamUrl, num, type RepairView, type Run, type XMode } from "./api";
import { ChartsView, type RunRef } from "./charts";
import { colourAt, el, fmtDuration } from "./format";
import { LoopView } from "./loop_view";
import { NodesView } from "./nodes_view";
import { RunsTable } from "./runs_table";
import { Timeline } from "./timeline";

const DEFAULT_RUNS = 5;
const pageParams = new URLSearchParams(location.search);
const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{4,}$/;  // the store's run ids (store.cc NewRunId)
const MAX_KEYS_DEFAULT = 4;
const MAX_MARKER_RUNS = 20;

let resolveReady: () => void = () => {};
const hook = {
  ready: new Promise<void>(r => (resolveReady = r)),
  isReady: false,
  firstPaintMs: NaN,  // from the script's start to the first charts drawn with data
  readyAt: NaN,       // the same moment, from navigation start (performance.now())
  errors: [] as string[],
  marks: {} as Record<string, number>,  // landing milestones, ms since navigation start
  seriesRequests,
  sse: { opened: false, messages: 0 },
  charts: () => charts.snapshot(),
  // The repair views of the charted runs as the API gave them, and the lines shown above the charts.
  repair: () => ({ views: [...charts.repairs.values()],
    lines: [...document.querySelectorAll<HTMLElement>("#repair-summary .repair-line")].map(l => ({ run: l.dataset.run, summary: l.querySelector(".what")?.textContent ?? "", goodput: l.querySelector(".goodput")?.textContent ?? "" })) }),
  table: () => ({ rows: table.visibleRuns().map(r => r.id), selected: table.selection(), sort: table.sortState(), focused: table.focusedRun() }),
  settings: () => ({ ...charts.settings, keys: charts.keys, theme: document.documentElement.dataset.theme }),
  selectRuns: (ids: string[]) => table.setSelection(ids),
  setKeys: (keys: string[]) => { userKeys = keys; syncUrl(); return showCharts(); },
};
(window as any).__inloop = hook;

// ---------------------------------------------------------------- layout
const app = document.getElementById("app")!;
const themeBtn = el("button", { id: "theme-toggle", class: "ghost", title: "toggle dark / light" });
const xSel = el("select", { id: "x-mode", title: "x axis" },
  el("option", { value: "step" }, "step"), el("option", { value: "time" }, "wall time"), el("option", { value: "relative" }, "relative time")) as HTMLSelectElement;
const smooth = el("input", { id: "smoothing", type: "range", min: "0", max: "0.99", step: "0.01", value: "0" }) as HTMLInputElement;
const smoothVal = el("span", { class: "muted num", id: "smoothing-value" }, "0");
const logBox = el("input", { id: "log-y", type: "checkbox" }) as HTMLInputElement;
const resetZoom = el("button", { id: "reset-zoom", class: "ghost", hidden: "" }, "reset zoom");
const keysMenu = el("details", { class: "menu", id: "keys-menu" }, el("summary", {}, "metrics"), el("div", { class: "menu-body", id: "keys-list" }));
const colsMenu = el("details", { class: "menu", id: "cols-menu" }, el("summary", {}, "columns"), el("div", { class: "menu-body", id: "cols-list" }));
const pendingBadge = el("button", { id: "pending-badge", class: "badge-btn", hidden: "" });
const liveDot = el("span", { id: "live", class: "live", title: "live updates" }, "live");
const header = el("header", { class: "top" },
  el("span", { class: "brand" }, "inloop"),
  el("span", { class: "muted", id: "store-info" }),
  pendingBadge,
  el("span", { class: "spacer" }),
  el("label", {}, "x ", xSel),
  el("label", { title: "exponential moving average" }, "smoothing ", smooth, smoothVal),
  el("label", {}, logBox, " log y"),
  resetZoom, keysMenu, liveDot, themeBtn);
const filterBox = el("input", { id: "filter", type: "search", placeholder: "filter: name, name*, tag:T, status:S, lr=0.1, lr>0.01" }) as HTMLInputElement;
const statusSel = el("select", { id: "status-filter" }, ...["", "running", "finished", "failed", "stopped", "interrupted"].map(s => el("option", { value: s }, s || "any status"))) as HTMLSelectElement;
const tableBox = el("div", { id: "runs" });
const left = el("aside", { class: "left" }, el("div", { class: "filters" }, filterBox, statusSel, colsMenu), tableBox);
const chartsBox = el("section", { id: "charts" });
const repairBox = el("div", { id: "repair-summary", hidden: "" });
const center = el("section", { class: "center" }, repairBox, chartsBox);
const right = el("aside", { class: "right", id: "timeline" });
const toast = el("div", { id: "toast", role: "status" });
app.replaceChildren(header, el("main", { class: "layout" }, left, center, right), toast);

// ---------------------------------------------------------------- theme
function applyTheme(t: "dark" | "light") {
  document.documentElement.dataset.theme = t;
  themeBtn.textContent = t === "dark" ? "☀ light" : "☾ dark";
  charts.settings.theme = t;
}
const stored = localStorage.getItem("inloop.theme");
const initialTheme: "dark" | "light" = stored === "dark" || stored === "light" ? stored
  : matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";

// ---------------------------------------------------------------- state
const colours = new Map<string, string>();
let userKeys: string[] | null = null;  // null: pick from the selected runs' keys
let availableKeys: string[] = [];
let runsById = new Map<string, Run>();

function showError(msg: string) {
  hook.errors.push(msg);
  toast.textContent = msg;
  toast.classList.add("on");
  window.setTimeout(() => toast.classList.remove("on"), 6000);
}

const charts = new ChartsView(chartsBox);
charts.onError = showError;
applyTheme(initialTheme);
const timeline = new Timeline(right);
timeline.onError = showError;
const table = new RunsTable(tableBox, {
  onSelection: () => { void onSelectionChanged(); },
  onFocus: id => { void focusRun(id); },
  colourOf: id => colours.get(id) ?? null,
});
// The research-loop view (loop_view.ts): a header button when the store has loops.
const loopView = new LoopView(header, id => { table.setSelection([id]); void focusRun(id); });
(hook as any).loop = () => loopView.state;
// The lemon-node ledger (nodes_view.ts): a header button when Slurm runs recorded node faults.
const nodesView = new NodesView(header);
(hook as any).nodes = () => nodesView.nodes;

function colourFor(id: string): string {
  let c = colours.get(id);
  if (!c) { c = colourAt(colours.size); colours.set(id, c); }
  return c;
}

function selectedRefs(): RunRef[] {
  return table.selection().map(id => ({ id, name: runsById.get(id)?.name ?? id, colour: colourFor(id) }));
}

// Default keys: losses first, then the rest, alphabetically; at most MAX_KEYS_DEFAULT.
function defaultKeys(keys: string[]): string[] {
  const score = (k: string) => (/loss/i.test(k) ? (/val|eval|test/i.test(k) ? 1 : 0) : /acc|perplex|ppl|reward/i.test(k) ? 2 : /lr|learning/i.test(k) ? 3 : 4);
  return keys.slice().sort((a, b) => score(a) - score(b) || a.localeCompare(b)).slice(0, MAX_KEYS_DEFAULT);
}

function renderKeysMenu() {
  const list = document.getElementById("keys-list")!;
  const shown = new Set(charts.keys);
  list.replaceChildren(...availableKeys.map(k => {
    const cb = el("input", { type: "checkbox", value: k }) as HTMLInputElement;
    cb.checked = shown.has(k);
    return el("label", {}, cb, k);
  }));
  if (availableKeys.length === 0) list.append(el("span", { class: "muted" }, "no series in the selected runs"));
}
document.getElementById("keys-list")!.addEventListener("change", () => {
  userKeys = [...document.querySelectorAll<HTMLInputElement>("#keys-list input:checked")].map(i => i.value);
  syncUrl();
  void showCharts();
});

function renderColsMenu(keys: string[]) {
  const list = document.getElementById("cols-list")!;
  list.replaceChildren(...keys.map(k => {
    const cb = el("input", { type: "checkbox", value: k }) as HTMLInputElement;
    cb.checked = table.paramCols.includes(k);
    return el("label", {}, cb, k);
  }));
  if (keys.length === 0) list.append(el("span", { class: "muted" }, "no params in this store"));
}
document.getElementById("cols-list")!.addEventListener("change", () => {
  table.paramCols = [...document.querySelectorAll<HTMLInputElement>("#cols-list input:checked")].map(i => i.value);
  table.refresh();
});

async function showCharts(): Promise<void> {
  const refs = selectedRefs();
  const keys = userKeys ? userKeys.filter(k => availableKeys.includes(k) || !availableKeys.length) : defaultKeys(availableKeys);
  await charts.show(refs, keys);
  renderKeysMenu();
  void loadMarkers();
}

// The page's URL follows what is charted (?runs=...&keys=...), so a reload or a shared link shows
// the same view; the token and other parameters stay as they are.
function syncUrl() {
  const q = new URLSearchParams(location.search);
  const ids = table.selection();
  if (ids.length && ids.length <= 50) q.set("runs", ids.join(",")); else q.delete("runs");
  if (userKeys && userKeys.length) q.set("keys", userKeys.join(",")); else q.delete("keys");
  const search = q.toString().replace(/%2C/g, ",");
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

async function onSelectionChanged(): Promise<void> {
  syncUrl();
  const ids = table.selection();
  try { availableKeys = await seriesKeys(ids); } catch (e) { showError((e as Error).message); availableKeys = []; }
  table.refresh();
  await showCharts();
}

// The repair of each charted run (GET /api/v1/runs/{id}/repair): drawn on the charts, and what the
// doctor did said in one line above them (a run without a repair has no line).
let markerSeq = 0;
async function loadMarkers() {
  const seq = ++markerSeq;
  const ids = table.selection().slice(0, MAX_MARKER_RUNS);
  const views = await Promise.all(ids.map(id => runRepair(id).catch(e => { console.warn(`repair of ${id}: ${(e as Error).message}`); return null; })));
  if (seq !== markerSeq) return;
  const got = views.filter((v): v is RepairView => v !== null);
  for (const v of got) if (!charts.runStart.has(v.run)) charts.runStart.set(v.run, v.started_at);
  charts.setRepairs(got);
  renderRepairLines(got);
}

function goodputText(v: RepairView): string {
  const g = v.goodput;
  if (!g) return "";
  const faults = g.faults.length;
  return `ETTR ${(100 * g.ettr).toFixed(1)}% · lost ${g.lost_steps} ${g.lost_steps === 1 ? "step" : "steps"} / ${fmtDuration(g.lost_seconds)} · ${faults} ${faults === 1 ? "fault" : "faults"}`;
}

function renderRepairLines(views: RepairView[]) {
  const lines = views.filter(v => v.summary).map(v => el("div", { class: "repair-line", "data-run": v.run },
    el("i", { class: "swatch", style: `background:${colourFor(v.run)}` }),
    views.length > 1 ? el("b", { class: "who" }, v.name || v.run) : "",
    el("span", { class: "what" }, v.summary),
    el("span", { class: "goodput", title: "effective training time ratio, steps and wall time lost to restarts" }, goodputText(v))));
  repairBox.replaceChildren(...lines);
  repairBox.hidden = lines.length === 0;
}

async function focusRun(id: string) {
  table.setFocus(id);
  await timeline.show(id);
}

async function refreshPending() {
  try {
    const res = await pendingActions();
    if (res.length) {
      pendingBadge.hidden = false;
      pendingBadge.textContent = `${res.length} pending`;
      pendingBadge.dataset.run = res[0].run_id;
    } else pendingBadge.hidden = true;
    return res;
  } catch { return []; }
}
pendingBadge.addEventListener("click", () => { if (pendingBadge.dataset.run) void focusRun(pendingBadge.dataset.run); });

// A timeline event with a step: zoom every chart around it (step axis).
timeline.onJump = step => {
  if (charts.settings.xmode !== "step") { charts.settings.xmode = "step"; xSel.value = "step"; }
  const focus = timeline.detail?.run.id;
  if (focus && !table.selection().includes(focus)) table.setSelection([...table.selection(), focus]);
  const span = Math.max(20, Math.round(step * 0.1));
  charts.onZoom([Math.max(0, step - span), step + span]);
};
// Statuses learnt after the page's listing (from the stream or a timeline read), numbered in
// arrival order. A listing asked for before one arrived may have been answered before the
// change: the newer status wins over it.
let statusClock = 0;
const liveStatus = new Map<string, { status: string; clock: number }>();
const noteStatus = (run: string, status: string) => liveStatus.set(run, { status, clock: ++statusClock });

// What the timeline read about its run is the newest the page has: the table row follows it.
timeline.onShown = d => {
  noteStatus(d.run.id, d.run.status);
  table.updateRun(d.run.id, { status: d.run.status, attempts: d.run.attempts, duration_s: d.run.duration_s });
};
timeline.onDecided = () => { void refreshPending(); void reloadRuns(); void loadMarkers(); };

async function reloadRuns() {
  try {
    const asked = statusClock;
    const { total, runs } = await listRuns(charts.keys.slice(0, 2));
    for (const r of runs) {
      const live = liveStatus.get(r.id);
      if (live && live.clock > asked) r.status = live.status;
    }
    runsById = new Map(runs.map(r => [r.id, r]));
    table.lastKeys = charts.keys.slice(0, 2);
    table.setRuns(runs);
    document.getElementById("store-info")!.textContent = `${total.toLocaleString()} runs`;
  } catch (e) { showError((e as Error).message); }
}

// ---------------------------------------------------------------- controls
document.addEventListener("click", e => {
  for (const d of document.querySelectorAll<HTMLDetailsElement>("details.menu[open]"))
    if (!d.contains(e.target as Node)) d.open = false;
});
xSel.addEventListener("change", () => { charts.settings.xmode = xSel.value as XMode; charts.settings.zoom = null; resetZoom.hidden = true; void charts.reload().then(() => charts.redraw()); });
smooth.addEventListener("input", () => { charts.settings.smoothing = Number(smooth.value); smoothVal.textContent = smooth.value; charts.redraw(); });
logBox.addEventListener("change", () => { charts.settings.logY = logBox.checked; charts.redraw(); });
themeBtn.addEventListener("click", () => {
  const t = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem("inloop.theme", t);
  applyTheme(t);
  charts.redraw();
});
charts.onZoom = range => {
  // Steps are integers on the wire: widen a step range to whole steps.
  if (range && charts.settings.xmode === "step") range = [Math.floor(range[0]), Math.ceil(range[1])];
  charts.settings.zoom = range;
  resetZoom.hidden = range === null;
  void charts.reload();
};
resetZoom.addEventListener("click", () => charts.onZoom(null));
let filterTimer = 0;
const applyFilter = () => table.setFilter(filterBox.value, statusSel.value);
filterBox.addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = window.setTimeout(applyFilter, 120); });
statusSel.addEventListener("change", applyFilter);
let lastWidth = 0, resizeTimer = 0;
new ResizeObserver(() => {
  const w = chartsBox.clientWidth;
  if (!hook.isReady || Math.abs(w - lastWidth) < 16) return;
  lastWidth = w;
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => { charts.redraw(); void charts.reload(); }, 200);
}).observe(chartsBox);

// ---------------------------------------------------------------- live
// A run the page has not listed yet (it started after the page loaded): list the runs again,
// once for a burst of messages; with nothing charted, chart the newest run.
let unknownTimer = 0;
function unknownRun() {
  if (unknownTimer) return;
  unknownTimer = window.setTimeout(async () => {
    await reloadRuns();
    unknownTimer = 0;
    if (table.selection().length === 0 && table.getRuns().length) {
      const newest = table.getRuns().slice().sort((a, b) => b.created_at - a.created_at)[0];
      colourFor(newest.id);
      table.setSelection([newest.id]);
    }
  }, 300);
}
let tlTimer = 0;
function refreshTimelineSoon() { clearTimeout(tlTimer); tlTimer = window.setTimeout(() => void timeline.refresh(), 300); }
function connectStream() {
  const src = new EventSource(streamUrl([]));
  const runOf = (d: any): string => String(d.run ?? d.run_id ?? "");
  const parse = (e: MessageEvent): any => { hook.sse.messages++; try { return JSON.parse(e.data); } catch { return null; } };
  src.onopen = () => { hook.sse.opened = true; liveDot.classList.add("on"); };
  src.onerror = () => liveDot.classList.remove("on");
  // `ready`: the stream's starting position for a run; re-read charted runs so the points written
  // between the first fetch and the subscription are not missing from the view.
  src.addEventListener("ready", e => {
    const d = parse(e as MessageEvent);
    const live: any[] = d && Array.isArray(d.runs) ? d.runs : [];
    if (live.some(r => table.selection().includes(runOf(r)))) charts.refetchSoon();
    if (live.some(r => !runsById.has(runOf(r)))) unknownRun();
  });
  src.addEventListener("points", e => {
    const d = parse(e as MessageEvent);
    if (!d) return;
    const run = runOf(d);
    if (!runsById.has(run)) { unknownRun(); return; }
    const pts: [number, number, number][] = (d.points || []).map((p: any) => [num(p[0]), num(p[1]), num(p[2])]);
    if (table.selection().includes(run)) charts.append(run, String(d.key), pts);
    const r = runsById.get(run);
    if (r && pts.length && table.lastKeys.includes(String(d.key))) { r.last[String(d.key)] = pts[pts.length - 1][2]; }
  });
  src.addEventListener("status", e => {
    const d = parse(e as MessageEvent);
    if (!d) return;
    const run = runOf(d);
    if (d.status) noteStatus(run, String(d.status));
    if (!runsById.has(run)) { unknownRun(); return; }
    if (d.status) table.updateRun(run, { status: String(d.status) });
    if (timeline.detail?.run.id === run) refreshTimelineSoon();
  });
  src.addEventListener("event", e => {
    const d = parse(e as MessageEvent);
    if (!d || d.kind === "data_batches") return;  // the data index: no marker, not on the timeline
    const run = runOf(d);
    if (table.selection().includes(run)) void loadMarkers();
    if (timeline.detail?.run.id === run) refreshTimelineSoon();
  });
  src.addEventListener("action", e => {
    const d = parse(e as MessageEvent);
    if (!d) return;
    void refreshPending();
    if (timeline.detail?.run.id === runOf(d)) refreshTimelineSoon();
  });
}

// A focused run that is still running is re-read every few seconds as well, so its status and
// attempts stay current even where an SSE message was missed (e.g. across a reconnect).
window.setInterval(() => {
  const d = timeline.detail;
  if (d && (d.run.status === "running" || d.actions.some(a => a.state === "pending" || a.state === "approved"))) {
    void timeline.refresh();
  }
}, 2000);

// ---------------------------------------------------------------- landing
async function start() {
  const t0 = performance.now();
  try {
    hook.marks.script = t0;
    const want = (pageParams.get("runs") || "").split(",").filter(Boolean);
    const keysParam = (pageParams.get("keys") || "").split(",").filter(Boolean);
    const listed = listRuns([]);
    // A link with run ids and keys (?runs=ID,...&keys=K): chart at once, beside the run listing.
    let early: Promise<void> | null = null;
    if (want.length && keysParam.length && want.every(w => RUN_ID.test(w))) {
      userKeys = keysParam;
      const ids = [...new Set(want)];
      early = charts.show(ids.map(id => ({ id, name: id, colour: colourFor(id) })), keysParam);
    }
    const { total, runs } = await listed;
    hook.marks.runs = performance.now();
    runsById = new Map(runs.map(r => [r.id, r]));
    document.getElementById("store-info")!.textContent = `${total.toLocaleString()} runs`;
    charts.emptyText = total === 0 ? "No runs in this store yet. Start one with `inloop run -- python train.py`, or send points to POST /api/v1/runs; it appears here live."
      : "Select runs in the table to chart them.";
    table.setRuns(runs);
    if (pageParams.get("filter")) { filterBox.value = pageParams.get("filter")!; applyFilter(); }
    // ?runs=ID|NAME,... and ?keys=K,... pick what the landing page charts (links people share);
    // otherwise the most recent runs and their loss-like keys.
    const byName = new Map<string, string>();
    for (const r of runs) if (!byName.has(r.name)) byName.set(r.name, r.id);  // newest first: newest wins
    const picked = want.map(w => (runsById.has(w) ? w : byName.get(w))).filter((x): x is string => !!x);
    const recent = picked.length ? [...new Set(picked)]
      : runs.slice().sort((a, b) => b.created_at - a.created_at).slice(0, DEFAULT_RUNS).map(r => r.id);
    recent.forEach(colourFor);
    table.setSelection(recent, false);
    if (early) {
      await early;
      for (const r of charts.runs) r.name = runsById.get(r.id)?.name ?? r.name;
      charts.relabel();
      void loadMarkers();
      void seriesKeys(recent).then(k => { availableKeys = k; renderKeysMenu(); }, () => {});
    } else if (keysParam.length) {
      // Keys named in the URL: chart them at once, learn the others meanwhile.
      userKeys = keysParam;
      const keysLater = seriesKeys(recent).catch(() => [] as string[]);
      await showCharts();
      void keysLater.then(k => { availableKeys = k; renderKeysMenu(); });
    } else {
      availableKeys = await seriesKeys(recent);
      await showCharts();
    }
    await new Promise(r => requestAnimationFrame(() => r(null)));  // the frame with the charts
    hook.marks.painted = performance.now();
    hook.firstPaintMs = performance.now() - t0;
    hook.readyAt = performance.now();
    document.body.dataset.ready = "1";
    hook.isReady = true;
    lastWidth = chartsBox.clientWidth;
    resolveReady();
    connectStream();
    // Second wave, after the first paint: last values, param columns, pending remedies, live.
    const pkeys = await paramKeys().catch(() => [] as string[]);
    // Default param columns: params most runs have, that differ between runs (a sweep's axes).
    const sample = runs.slice(0, 500);
    const coverage = (k: string) => sample.filter(r => r.params[k] !== undefined).length;
    const varying = pkeys.filter(k => !/^(inloop\.|import\/)/.test(k) && coverage(k) >= sample.length / 2
      && new Set(sample.map(r => r.params[k])).size > 1).sort((a, b) => coverage(b) - coverage(a));
    table.paramCols = varying.slice(0, 2);
    renderColsMenu(pkeys);
    await reloadRuns();
    const pend = await refreshPending();
    const focus = pend.length ? pend[0].run_id : recent[0];
    if (focus) await focusRun(focus);
  } catch (e) {
    showError((e as Error).message);
    hook.isReady = true;
    document.body.dataset.ready = "1";
    resolveReady();
    connectStream();
  }
  void loopView.init(pageParams).catch(e => hook.errors.push(`loops: ${(e as Error).message}`));
  void nodesView.init(pageParams).catch(e => hook.errors.push(`nodes: ${(e as Error).message}`));
}
void start();
