// The metric charts: one uPlot per series key, overlaying the selected runs. Owns the drawn data
// (exactly the points the API returned, before smoothing), EMA smoothing, log y, the x mode, zoom
// (drag -> re-query the visible range at the plot's pixel width; double-click resets), hover
// values, non-finite markers and the repair of each run (repair view: the abandoned part of an
// attempt drawn faded, skipped data windows shaded, one marker per finding episode, checkpoints as
// ticks on the x axis). Never edits runs or decides actions.
import uPlot from "uplot";
import { alignedSeries, type RepairView, type SeriesOfRun, type XMode } from "./api";
import { el, fmtDuration, fmtNumber, fmtTick } from "./format";
import { ema } from "./smoothing";

export interface RunRef { id: string; name: string; colour: string }
// One finding episode of a run: a small marker at the top of the plot (a bar over its steps).
export interface Marker { run: string; step: number | null; hi: number | null; time: number; kind: string; label: string; colour: string }
// What the last draw of a chart put on it, for the browser tests (window.__inloop.charts()).
export interface Drawn {
  faded: Record<string, number[]>;     // run -> x of the abandoned points drawn faded
  bands: { run: string; lo: number; hi: number }[];  // skipped data windows (step axis)
  markers: { run: string; kind: string; x: number }[];
  ticks: { run: string; x: number }[];  // checkpoints
}

const CHART_MIN_H = 190, CHART_MAX_H = 330;

function lowerBound(xs: number[], x: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}

export interface ChartSettings {
  xmode: XMode; smoothing: number; logY: boolean; zoom: [number, number] | null; theme: "dark" | "light";
}

export class ChartsView {
  readonly charts = new Map<string, Chart>();
  runs: RunRef[] = [];
  keys: string[] = [];
  markers: Marker[] = [];
  repairs = new Map<string, RepairView>();
  runStart = new Map<string, number>();
  settings: ChartSettings = { xmode: "step", smoothing: 0, logY: false, zoom: null, theme: "dark" };
  emptyText = "Select runs in the table to chart them.";
  onZoom: (range: [number, number] | null) => void = () => {};
  onError: (msg: string) => void = () => {};

  constructor(readonly root: HTMLElement) { root.classList.add("charts"); }

  // Rebuilds the chart list for keys and loads every chart; resolves when all are drawn.
  async show(runs: RunRef[], keys: string[]): Promise<void> {
    this.runs = runs;
    this.keys = keys;
    const shown = runs.length ? keys : [];
    for (const [k, c] of this.charts) if (!shown.includes(k)) { c.destroy(); this.charts.delete(k); }
    for (const k of shown) if (!this.charts.has(k)) this.charts.set(k, new Chart(k, this));
    // Keep DOM order equal to keys order.
    this.root.replaceChildren(...shown.map(k => this.charts.get(k)!.box));
    if (runs.length === 0 || keys.length === 0) {
      this.root.append(el("div", { class: "empty" }, runs.length === 0 ? this.emptyText : "These runs have no series yet."));
    }
    await this.reload();
  }

  async reload(): Promise<void> {
    await Promise.all([...this.charts.values()].map(c => c.load()));
  }

  redraw() { for (const c of this.charts.values()) c.draw(true); }
  relabel() { for (const c of this.charts.values()) c.renderLegend(); }
  refetchSoon() { for (const c of this.charts.values()) c.scheduleRefetch(); }

  // The repair views of the charted runs: their episodes become the markers.
  setRepairs(views: RepairView[]) {
    this.repairs = new Map(views.map(v => [v.run, v]));
    this.markers = [];
    for (const v of views) {
      for (const e of v.episodes) {
        const steps = e.step_lo === null ? "" : e.step_hi !== null && e.step_hi !== e.step_lo ? ` steps ${e.step_lo}-${e.step_hi}` : ` step ${e.step_lo}`;
        const label = `${e.kind}${e.count > 1 ? ` ×${e.count}` : ""}${steps}${e.key ? ` on ${e.key}` : ""}`;
        this.markers.push({ run: v.run, step: e.step_lo, hi: e.step_hi, time: e.time, kind: e.kind, label,
          colour: e.severity === "error" ? "#e5484d" : e.severity === "warning" ? "#d9a400" : "#7f8c8d" });
      }
    }
    for (const c of this.charts.values()) c.u?.redraw(false, false);
  }

  // Appends live points of one run to the chart of `key` (no-op when that chart or run is not shown).
  append(run: string, key: string, pts: [number, number, number][]) {
    const c = this.charts.get(key);
    if (c) c.append(run, pts);
  }

  // Few charts share the column's height; many scroll at a readable minimum.
  chartHeight(): number {
    const avail = (this.root.parentElement?.clientHeight || 700) - 24;
    const n = Math.max(1, this.charts.size);
    return Math.round(Math.min(CHART_MAX_H, Math.max(CHART_MIN_H, avail / n - 100)));
  }

  markerX(m: { run: string; step: number | null; time: number }): number | null {
    const mode = this.settings.xmode;
    if (mode === "step") return m.step;
    if (mode === "time") return m.time;
    const start = this.runStart.get(m.run);
    return start === undefined ? null : m.time - start;
  }

  snapshot() {
    return [...this.charts.values()].map(c => c.snapshot());
  }
}

export class Chart {
  readonly box: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly tip: HTMLElement;
  private readonly info: HTMLElement;
  u: uPlot | null = null;
  data: SeriesOfRun[] = [];
  private width = 0;  // plot width in CSS px that the data was requested for
  private signature = "";
  private loadSeq = 0;
  private hidden = new Set<string>();
  private xRange: [number, number] = [0, 1];
  private yRange: [number, number] = [0, 1];
  private refetchTimer = 0;
  private appended = 0;
  loads = 0;
  drawn: Drawn = { faded: {}, bands: [], markers: [], ticks: [] };
  timing = { request: NaN, answered: NaN, drawn: NaN };  // the last load, ms since navigation start

  constructor(readonly key: string, private view: ChartsView) {
    this.box = el("section", { class: "chart", "data-key": key });
    this.info = el("span", { class: "chart-info" });
    const head = el("header", {}, el("h3", {}, key), this.info);
    this.plotBox = el("div", { class: "plot" });
    this.tip = el("div", { class: "tip", hidden: "" });
    this.legend = el("div", { class: "legend" });
    this.plotBox.append(this.tip);
    this.box.append(head, this.plotBox, this.legend);
    this.legend.addEventListener("click", e => {
      const item = (e.target as HTMLElement).closest("[data-run]") as HTMLElement | null;
      if (!item) return;
      const id = item.dataset.run!;
      this.hidden.has(id) ? this.hidden.delete(id) : this.hidden.add(id);
      this.draw(true);
    });
    this.plotBox.addEventListener("dblclick", () => this.view.onZoom(null));
  }

  destroy() { this.u?.destroy(); this.u = null; this.box.remove(); }

  // The plot area's width in CSS px: what the API is asked to downsample to.
  plotWidth(): number {
    if (this.u) return Math.max(50, Math.round(this.u.bbox.width / uPlot.pxRatio));
    const w = this.plotBox.clientWidth || this.view.root.clientWidth || 800;
    return Math.max(50, Math.round(w - 70));
  }

  async load(): Promise<void> {
    const seq = ++this.loadSeq;
    if (!this.u) this.draw(true);  // an empty plot first, so its width is known
    const width = this.plotWidth();
    const z = this.view.settings.zoom;
    const runs = this.view.runs;
    if (runs.length === 0) { this.data = []; this.draw(true); return; }
    this.box.classList.add("loading");
    try {
      const t0 = performance.now();
      const got = await alignedSeries(runs.map(r => r.id), this.key, this.view.settings.xmode, width, z ? z[0] : null, z ? z[1] : null);
      if (seq !== this.loadSeq) return;  // a newer request superseded this one
      const t1 = performance.now();
      this.data = got;
      this.width = width;
      this.appended = 0;
      this.loads++;
      for (const s of got) if (this.view.settings.xmode === "time" && s.x.length) this.view.runStart.set(s.run, s.x[0]);
      this.draw(false);
      this.timing = { request: t0, answered: t1, drawn: performance.now() };
    } catch (e) {
      if (seq === this.loadSeq) { this.view.onError(`${this.key}: ${(e as Error).message}`); this.data = []; this.draw(true); }
    } finally {
      if (seq === this.loadSeq) this.box.classList.remove("loading");
    }
  }

  append(run: string, pts: [number, number, number][]) {
    const s = this.data.find(d => d.run === run);
    const mode = this.view.settings.xmode;
    if (!s || mode === "relative") { this.scheduleRefetch(); return; }
    const z = this.view.settings.zoom;
    // A resumed attempt rewinds its steps: as the API's stitched curve does, the new points hide
    // the drawn ones at and after their first step (the old ones stay in the store).
    if (mode === "step" && pts.length && s.x.length && pts[0][0] <= s.x[s.x.length - 1]) {
      const cut = lowerBound(s.x, pts[0][0]);
      if (cut < s.x.length) s.abandoned.push({ segment: -1, x: s.x.slice(cut), y: s.y.slice(cut) });
      s.x.length = cut;
      s.y.length = cut;
    }
    for (const [step, wall, value] of pts) {
      const x = mode === "step" ? step : wall;
      if (z && (x < z[0] || x > z[1])) continue;
      s.x.push(x); s.y.push(value); s.total_points++;
      this.appended++;
    }
    // Raw appends grow without bound; past a few columns' worth, ask for a fresh M4 view.
    if (this.appended > 4 * this.width) this.scheduleRefetch();
    // Many messages a second: draw once per frame.
    if (!this.drawQueued) {
      this.drawQueued = true;
      requestAnimationFrame(() => { this.drawQueued = false; this.draw(false); });
    }
  }
  private drawQueued = false;

  scheduleRefetch() {
    if (this.refetchTimer) return;
    this.refetchTimer = window.setTimeout(() => { this.refetchTimer = 0; void this.load(); }, 1000);
  }

  snapshot() {
    return { key: this.key, x: this.view.settings.xmode, width: this.width, zoom: this.view.settings.zoom,
      loads: this.loads, xRange: this.xRange, timing: this.timing, drawnWidth: this.plotWidth(),
      series: this.data.map(s => ({ run: s.run, name: s.name, total_points: s.total_points, downsampled: s.downsampled,
        x: s.x.slice(), y: s.y.slice(), abandoned: s.abandoned.map(a => ({ segment: a.segment, x: a.x.slice(), y: a.y.slice() })) })),
      drawn: JSON.parse(JSON.stringify(this.drawn)) };
  }

  private computeRanges() {
    const z = this.view.settings.zoom, logY = this.view.settings.logY;
    let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    for (const s of this.data) {
      if (this.hidden.has(s.run)) continue;
      for (let i = 0; i < s.x.length; i++) {
        const x = s.x[i], y = s.y[i];
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
        if (z && (x < z[0] || x > z[1])) continue;
        if (!Number.isFinite(y) || (logY && y <= 0)) continue;
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
      }
    }
    if (z) { xmin = z[0]; xmax = z[1]; }
    if (!(xmin < xmax)) { const c = Number.isFinite(xmin) ? xmin : 0; xmin = c - 1; xmax = c + 1; }
    if (!(ymin <= ymax)) { ymin = logY ? 0.1 : 0; ymax = logY ? 10 : 1; }
    if (logY) {
      const lo = Math.log10(ymin), hi = Math.log10(ymax), pad = Math.max((hi - lo) * 0.05, 0.05);
      this.yRange = [Math.pow(10, lo - pad), Math.pow(10, hi + pad)];
    } else {
      const pad = ymax > ymin ? (ymax - ymin) * 0.06 : Math.abs(ymax) * 0.1 || 1;
      this.yRange = [ymin - pad, ymax + pad];
    }
    this.xRange = [xmin, xmax];
  }

  private plotData(): uPlot.AlignedData {
    const { smoothing, logY } = this.view.settings;
    const out: any[] = [null];
    for (const r of this.view.runs) {
      const s = this.data.find(d => d.run === r.id);
      const xs = s ? s.x : [], ys = s ? s.y : [];
      const raw = ys.map(v => (Number.isFinite(v) && (!logY || v > 0) ? v : null));
      out.push([xs, raw]);
      if (smoothing > 0) {
        const sm = ema(ys, smoothing).map(v => (v !== null && (!logY || v > 0) ? v : null));
        out.push([xs, sm]);
      }
    }
    if (out.length === 1) out.push([[], []]);
    return out as unknown as uPlot.AlignedData;
  }

  // Draws the current data; `structure` forces a new uPlot (series, theme, axes changed).
  draw(structure: boolean) {
    const st = this.view.settings;
    const sig = [st.xmode, st.logY, st.smoothing > 0, st.theme, this.view.runs.map(r => r.id + r.colour).join(","), [...this.hidden].join(",")].join("|");
    this.computeRanges();
    this.renderLegend();
    this.renderInfo();
    if (this.u && !structure && sig === this.signature) {
      this.u.setData(this.plotData(), true);
      return;
    }
    this.signature = sig;
    this.u?.destroy();
    this.u = new uPlot(this.options(), this.plotData(), this.plotBox);
  }

  private renderInfo() {
    const total = this.data.reduce((a, s) => a + s.total_points, 0);
    const drawn = this.data.reduce((a, s) => a + s.x.length, 0);
    const ds = this.data.some(s => s.downsampled);
    this.info.textContent = this.data.length ? `${drawn.toLocaleString()} of ${total.toLocaleString()} points${ds ? " (M4)" : ""}` : "";
  }

  renderLegend() {
    const items = this.view.runs.map(r => {
      const s = this.data.find(d => d.run === r.id);
      const last = s && s.y.length ? s.y[s.y.length - 1] : null;
      const off = this.hidden.has(r.id);
      return el("span", { class: `item${off ? " off" : ""}${s && s.x.length === 0 ? " none" : ""}`, "data-run": r.id, title: off ? "show" : "hide" },
        el("i", { class: "swatch", style: `background:${r.colour}` }), r.name, el("b", {}, last === null ? "" : fmtNumber(last)));
    });
    this.legend.replaceChildren(...items);
  }

  private options(): uPlot.Options {
    const st = this.view.settings;
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--muted").trim() || "#888";
    const grid = css.getPropertyValue("--grid").trim() || "#8883";
    const width = Math.max(200, this.plotBox.clientWidth || this.view.root.clientWidth || 800);
    const series: uPlot.Series[] = [{}];
    for (const r of this.view.runs) {
      const show = !this.hidden.has(r.id);
      const smooth = st.smoothing > 0;
      series.push({ label: r.name, stroke: r.colour, width: smooth || this.view.runs.length > 20 ? 1 : 1.4, alpha: smooth ? 0.28 : 1, show,
        paths: uPlot.paths.linear!(), points: { show: false }, facets: [{ scale: "x", auto: true }, { scale: "y", auto: true }] } as any);
      if (smooth)
        series.push({ label: `${r.name} (smoothed)`, stroke: r.colour, width: 1.6, show, paths: uPlot.paths.linear!(),
          points: { show: false }, facets: [{ scale: "x", auto: true }, { scale: "y", auto: true }] } as any);
    }
    // uPlot's mode 2 needs one series to know its scales: a hidden, empty one when no run is shown.
    if (series.length === 1) series.push({ show: false, points: { show: false }, facets: [{ scale: "x", auto: true }, { scale: "y", auto: true }] } as any);
    const xValues = st.xmode === "relative"
      ? (_u: uPlot, ticks: number[]) => ticks.map(t => fmtDuration(t))
      : st.xmode === "step" ? (_u: uPlot, ticks: number[]) => ticks.map(t => (Math.abs(t) >= 1e4 ? `${+(t / 1000).toPrecision(4)}k` : String(t))) : undefined;
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: "11px system-ui, sans-serif" };
    return {
      mode: 2,
      width,
      height: this.view.chartHeight(),
      // Fixed padding: the plot's width must not move with tick labels (it is the width asked for).
      padding: [10, 18, 0, 0],
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, focus: { prox: -1 } } as any,
      select: { show: true } as any,
      scales: {
        x: { time: st.xmode === "time", auto: true, range: () => this.xRange },
        y: { auto: true, distr: st.logY ? 3 : 1, log: 10, range: () => this.yRange },
      },
      axes: [
        { ...axis, values: xValues as any, space: 60 },
        { ...axis, size: 60, values: (_u: uPlot, ticks: number[]) => ticks.map(t => fmtTick(t as number | null)) },
      ],
      series,
      hooks: {
        setSelect: [u => this.onSelect(u)],
        setCursor: [u => this.onCursor(u)],
        draw: [u => this.drawMarkers(u)],
      },
    };
  }

  private onSelect(u: uPlot) {
    if (u.select.width < 3) return;
    const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (b > a) this.view.onZoom([a, b]);
  }

  private onCursor(u: uPlot) {
    const left = u.cursor.left ?? -1;
    if (left < 0 || this.data.length === 0) { this.tip.hidden = true; return; }
    const xv = u.posToVal(left, "x");
    const rows: { name: string; colour: string; y: number; x: number }[] = [];
    for (const r of this.view.runs) {
      if (this.hidden.has(r.id)) continue;
      const s = this.data.find(d => d.run === r.id);
      if (!s || s.x.length === 0) continue;
      let i = lowerBound(s.x, xv);
      if (i >= s.x.length) i = s.x.length - 1;
      if (i > 0 && Math.abs(s.x[i - 1] - xv) <= Math.abs(s.x[i] - xv)) i--;
      const px = u.valToPos(s.x[i], "x");
      if (Math.abs(px - left) > 40) continue;
      rows.push({ name: r.name, colour: r.colour, y: s.y[i], x: s.x[i] });
    }
    // Episodes, checkpoints and skipped windows under the cursor: what happened there.
    const near = this.repairNear(u, left);
    if (rows.length === 0 && near.length === 0) { this.tip.hidden = true; return; }
    if (rows.length === 0) rows.push({ name: "", colour: "transparent", y: NaN, x: xv });
    const mode = this.view.settings.xmode;
    const xs = mode === "step" ? `step ${Math.round(rows[0].x)}` : mode === "relative" ? fmtDuration(rows[0].x) : new Date(rows[0].x * 1000).toLocaleTimeString();
    const shown = rows.filter(r => r.name).slice(0, 12);
    const runName = (id: string) => this.view.runs.find(r => r.id === id)?.name ?? id;
    this.tip.replaceChildren(el("div", { class: "tx" }, xs), ...shown.map(r =>
      el("div", {}, el("i", { class: "swatch", style: `background:${r.colour}` }), el("span", {}, r.name), el("b", {}, fmtNumber(r.y)))),
      ...near.slice(0, 4).map(m => el("div", { class: "mk" }, el("i", { class: "swatch", style: `background:${m.colour}` }),
        el("span", {}, `${m.label}${this.view.runs.length > 1 ? ` · ${runName(m.run)}` : ""}`))));
    if (rows.length > shown.length) this.tip.append(el("div", { class: "more" }, `+${rows.length - shown.length} more`));
    this.tip.hidden = false;
    const plotLeft = u.over.offsetLeft, w = this.tip.offsetWidth;
    const x = plotLeft + left + 14;
    this.tip.style.left = `${x + w > this.plotBox.clientWidth ? Math.max(0, plotLeft + left - w - 14) : x}px`;
    this.tip.style.top = `${u.over.offsetTop + 6}px`;
  }

  private shownRepairs(): RepairView[] {
    const out: RepairView[] = [];
    for (const r of this.view.runs) {
      const v = this.view.repairs.get(r.id);
      if (v && !this.hidden.has(r.id)) out.push(v);
    }
    return out;
  }

  // Markers, checkpoints (within a few pixels) and skipped windows at the cursor's x.
  private repairNear(u: uPlot, left: number): { label: string; colour: string; run: string }[] {
    const near: { label: string; colour: string; run: string }[] = [];
    const shown = new Set(this.shownRepairs().map(v => v.run));
    for (const m of this.view.markers) {
      if (!shown.has(m.run)) continue;
      const lo = this.view.markerX(m);
      if (lo === null) continue;
      const hi = this.view.settings.xmode === "step" && m.hi !== null ? m.hi : lo;
      if (u.valToPos(lo, "x") - 4 <= left && left <= u.valToPos(hi, "x") + 4) near.push(m);
    }
    for (const v of this.shownRepairs()) {
      for (const c of v.checkpoints) {
        const x = this.view.markerX({ run: v.run, step: c.step, time: c.time });
        if (x !== null && Math.abs(u.valToPos(x, "x") - left) <= 3) near.push({ run: v.run, label: `checkpoint at step ${c.step}`, colour: "#7f8c8d" });
      }
      if (this.view.settings.xmode !== "step") continue;
      const xv = u.posToVal(left, "x");
      for (const b of v.skipped)
        if (xv >= b.lo - 0.5 && xv <= b.hi + 0.5) near.push({ run: v.run, label: `skipped data ${b.lo}-${b.hi}`, colour: "#d9a400" });
      for (const a of v.abandoned)
        if (xv >= a.step_lo && xv <= a.step_hi) near.push({ run: v.run, label: `attempt ${a.attempt}: steps ${a.step_lo}-${a.step_hi} abandoned, run again by attempt ${a.redone_by}`, colour: "#7f8c8d" });
    }
    return near;
  }

  // The repair (drawn under nothing else): skipped windows, the abandoned parts faded, one marker
  // per episode at the top, checkpoints as ticks on the x axis; then non-finite triangles.
  private drawMarkers(u: uPlot) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const r = uPlot.pxRatio;
    const step = this.view.settings.xmode === "step";
    const drawn: Drawn = { faded: {}, bands: [], markers: [], ticks: [] };
    const inside = (x: number) => x >= left - 0.5 && x <= left + width + 0.5;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const repairs = this.shownRepairs();
    // Skipped data windows: a shaded band over their steps (only the step axis has them).
    if (step) {
      ctx.fillStyle = "rgba(217, 164, 0, 0.13)";
      for (const v of repairs) for (const b of v.skipped) {
        const x0 = u.valToPos(b.lo - 0.5, "x", true), x1 = u.valToPos(b.hi + 0.5, "x", true);
        if (x1 < left || x0 > left + width) continue;
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
        drawn.bands.push({ run: v.run, lo: b.lo, hi: b.hi });
      }
    }
    // Abandoned parts: the run's colour, faded and dashed, non-finite points as faded triangles.
    const colour = new Map(this.view.runs.map(x => [x.id, x.colour]));
    ctx.lineWidth = 1.4 * r;
    ctx.setLineDash([3 * r, 3 * r]);
    for (const s of this.data) {
      if (this.hidden.has(s.run) || s.abandoned.length === 0) continue;
      const xs: number[] = [];
      ctx.strokeStyle = colour.get(s.run) ?? "#888";
      ctx.fillStyle = ctx.strokeStyle;
      for (const a of s.abandoned) {
        ctx.globalAlpha = 0.35;
        ctx.beginPath();
        let pen = false;
        const bad: number[] = [];
        for (let i = 0; i < a.x.length; i++) {
          const px = u.valToPos(a.x[i], "x", true);
          if (!inside(px)) { pen = false; continue; }
          xs.push(a.x[i]);
          const y = a.y[i];
          if (!Number.isFinite(y)) { bad.push(px); pen = false; continue; }
          if (this.view.settings.logY && y <= 0) { pen = false; continue; }
          const py = u.valToPos(y, "y", true);
          if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
          pen = true;
        }
        ctx.stroke();
        for (const px of bad) {  // a non-finite value of the abandoned part: a faded triangle
          ctx.beginPath();
          ctx.moveTo(px - 4 * r, top);
          ctx.lineTo(px + 4 * r, top);
          ctx.lineTo(px, top + 7 * r);
          ctx.fill();
        }
      }
      if (xs.length) drawn.faded[s.run] = xs;
    }
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
    // One marker per episode: a small triangle at the top, a bar over the steps it spans.
    for (const m of this.view.markers) {
      if (!repairs.some(v => v.run === m.run)) continue;
      const xv = this.view.markerX(m);
      if (xv === null) continue;
      const x = u.valToPos(xv, "x", true);
      if (!inside(x)) continue;
      ctx.fillStyle = m.colour;
      if (step && m.hi !== null && m.hi > xv) {
        const x1 = Math.min(left + width, u.valToPos(m.hi, "x", true));
        ctx.fillRect(x, top, Math.max(0, x1 - x), 3 * r);
      }
      ctx.beginPath();
      ctx.moveTo(x - 5 * r, top);
      ctx.lineTo(x + 5 * r, top);
      ctx.lineTo(x, top + 9 * r);
      ctx.fill();
      drawn.markers.push({ run: m.run, kind: m.kind, x: xv });
    }
    // Checkpoints: short ticks standing on the x axis.
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "#888";
    ctx.lineWidth = 1.5 * r;
    for (const v of repairs) for (const c of v.checkpoints) {
      const xv = this.view.markerX({ run: v.run, step: c.step, time: c.time });
      if (xv === null) continue;
      const x = u.valToPos(xv, "x", true);
      if (!inside(x)) continue;
      ctx.beginPath();
      ctx.moveTo(x, top + height);
      ctx.lineTo(x, top + height - 6 * r);
      ctx.stroke();
      drawn.ticks.push({ run: v.run, x: xv });
    }
    // Non-finite values cannot sit on the y axis: a red triangle at the top marks each.
    ctx.fillStyle = "#e5484d";
    for (const s of this.data) {
      if (this.hidden.has(s.run)) continue;
      for (let i = 0; i < s.y.length; i++) {
        if (Number.isFinite(s.y[i])) continue;
        const x = u.valToPos(s.x[i], "x", true);
        ctx.beginPath();
        ctx.moveTo(x - 4 * r, top);
        ctx.lineTo(x + 4 * r, top);
        ctx.lineTo(x, top + 7 * r);
        ctx.fill();
      }
    }
    ctx.restore();
    this.drawn = drawn;
  }
}
