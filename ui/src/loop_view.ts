// The research-loop view (issue 8): for each loop `inloop loop` recorded in the store, the metric
// of every round (kept / discarded / failed), the champion's line and lineage, and a table of the
// rounds with their verdicts, gains and noise. A "loops" button in the header opens it when the
// store has a loop; ?view=loop[&loop=NAME] opens it directly. Reads /api/v1/loops only.
import uPlot from "uplot";
import { listLoops, loopRounds, type LoopRound, type LoopSummary } from "./api";
import { el, fmtClock, fmtNumber } from "./format";

const VERDICT_COLOUR: Record<string, string> = {
  baseline: "#4e79a7", kept: "#59a14f", discarded: "#9c9c9c", failed: "#e15759", rejected: "#f28e2b",
  interrupted: "#b07aa1", tampered: "#d62728", rechecked: "#76b7b2", demoted: "#edc948",
  conflict: "#ff9da7", stale: "#bab0ac",
};

// A number the round may not have (no gain for the baseline, no noise from a single seed, no
// metric for a failed or rejected round): a dash, not "NaN"; the reason column says why.
const known = (v: number | null | undefined) => (v !== null && v !== undefined && Number.isFinite(v) ? fmtNumber(v) : "—");

export interface LoopViewState { loops: LoopSummary[]; name: string; rounds: LoopRound[]; lineage: number[] }

export class LoopView {
  state: LoopViewState = { loops: [], name: "", rounds: [], lineage: [] };
  private panel = el("section", { id: "loop-view", class: "loop-view", hidden: "" });
  private plot: uPlot | null = null;
  private button = el("button", { id: "loops-button", class: "ghost", hidden: "" }, "loops");

  constructor(header: HTMLElement, private onOpenRun: (runId: string) => void) {
    header.insertBefore(this.button, header.querySelector(".spacer"));
    document.body.append(this.panel);
    this.button.addEventListener("click", () => void (this.panel.hidden ? this.open("") : this.close()));
  }

  // Learns whether the store has loops (shows the button); opens the view when the URL asks.
  async init(params: URLSearchParams): Promise<void> {
    this.state.loops = await listLoops();
    this.button.hidden = this.state.loops.length === 0;
    this.button.textContent = `loops (${this.state.loops.length})`;
    if (params.get("view") === "loop") await this.open(params.get("loop") || "");
  }

  close() {
    this.panel.hidden = true;
    this.plot?.destroy();
    this.plot = null;
  }

  async open(name: string): Promise<void> {
    if (!this.state.loops.length) this.state.loops = await listLoops();
    const loop = this.state.loops.find(l => l.name === name) ?? this.state.loops[0];
    this.panel.hidden = false;
    if (!loop) {
      this.panel.replaceChildren(el("p", { class: "muted" }, "No research loop has recorded a round in this store (inloop loop init / run)."));
      return;
    }
    const { rounds, lineage } = await loopRounds(loop.name);
    this.state = { ...this.state, name: loop.name, rounds, lineage };
    this.render(loop);
  }

  private render(loop: LoopSummary) {
    const picker = el("select", { id: "loop-picker" }, ...this.state.loops.map(l => el("option", { value: l.name }, l.name))) as HTMLSelectElement;
    picker.value = loop.name;
    picker.addEventListener("change", () => void this.open(picker.value));
    const closeBtn = el("button", { class: "ghost", id: "loop-close" }, "close");
    closeBtn.addEventListener("click", () => this.close());
    const champ = loop.champion;
    const summary = el("p", { class: "muted", id: "loop-summary" },
      `${loop.metric_key} (${loop.goal}) · ${loop.rounds} rounds: ${loop.kept} kept, ${loop.discarded} discarded, ` +
      `${loop.failed} failed, ${loop.rejected} rejected` +
      ((loop.demoted ?? 0) > 0 ? `, ${loop.demoted} demoted` : "") +
      ` · baseline ${fmtNumber(loop.baseline)}` +
      (champ ? ` · champion round ${champ.round}: ${fmtNumber(champ.metric)} ${champ.commit.slice(0, 10)}` : ""));
    if ((loop.tampered ?? 0) > 0) {
      summary.append(" · ", el("span", { class: "tampered", id: "loop-tampered", style: `color:${VERDICT_COLOUR.tampered}` },
        `${loop.tampered} tampered`));
    }

    const t = loop.throughput;
    const pace = el("p", { class: "muted", id: "loop-pace" }, t && t.hours > 0
      ? `${fmtNumber(t.experiments_per_hour)} experiments/h · ${fmtNumber(t.kept_per_hour)} kept/h · ` +
        (t.cpu_hours_per_kept !== null ? `${fmtNumber(t.cpu_hours_per_kept)} CPU-h per kept` : `${fmtNumber(t.cpu_hours)} CPU-h, nothing kept yet`) +
        (t.gpu_hours_per_kept !== null ? ` · ${fmtNumber(t.gpu_hours_per_kept)} GPU-h per kept` : "")
      : "pace: no timed rounds yet");
    const chartBox = el("div", { id: "loop-chart" });
    const lineage = el("ol", { class: "loop-lineage", id: "loop-lineage" }, ...this.state.lineage.map(n => {
      const r = this.state.rounds.find(x => x.round === n);
      return el("li", {}, `round ${n}: ${fmtNumber(r?.metric)}${r && Number.isFinite(r.gain) ? ` (gain ${fmtNumber(r.gain)})` : ""} ${r?.commit ? r.commit.slice(0, 10) : ""}`);
    }));
    const rows = this.state.rounds.map(r => {
      const runLink = el("a", { href: "#", "data-run": r.run_id }, r.run_id);
      runLink.addEventListener("click", ev => { ev.preventDefault(); if (r.run_id) { this.close(); this.onOpenRun(r.run_id); } });
      return el("tr", { "data-verdict": r.verdict },
        el("td", { class: "num" }, String(r.round)),
        el("td", {}, el("span", { class: "verdict", style: `color:${VERDICT_COLOUR[r.verdict] ?? "inherit"}` }, r.verdict)),
        el("td", { class: "num" }, known(r.metric)), el("td", { class: "num" }, known(r.gain)),
        el("td", { class: "num" }, known(r.noise_sd)), el("td", {}, r.run_id ? runLink : ""),
        el("td", { class: "mono" }, r.commit && r.verdict !== "discarded" ? r.commit.slice(0, 10) : ""),
        el("td", { class: "muted" }, r.reason), el("td", { class: "muted" }, fmtClock(r.time)));
    });
    const table = el("table", { class: "loop-rounds", id: "loop-rounds" },
      el("thead", {}, el("tr", {}, ...["round", "verdict", "metric", "gain", "noise sd", "run", "commit", "reason", "finished"].map(h => el("th", {}, h)))),
      el("tbody", {}, ...rows));
    this.panel.replaceChildren(
      el("div", { class: "loop-head" }, el("strong", {}, "research loop "), picker, el("span", { class: "spacer" }), closeBtn),
      summary, pace, chartBox, el("div", { class: "loop-body" }, el("div", {}, el("h4", {}, "champion lineage"), lineage), table));
    this.draw(chartBox);
  }

  // x = round; points per verdict; the champion's metric as a stepped line.
  private draw(box: HTMLElement) {
    this.plot?.destroy();
    const rs = this.state.rounds;
    const xs = rs.map(r => r.round);
    const only = (v: string) => rs.map(r => (r.verdict === v && Number.isFinite(r.metric) ? r.metric : null));
    let champ: number | null = null;
    const champion = rs.map(r => {
      if ((r.verdict === "baseline" || r.verdict === "kept" || r.verdict === "rechecked") && Number.isFinite(r.metric)) champ = r.metric;
      if (r.verdict === "demoted" && Number.isFinite(r.champion_metric)) champ = r.champion_metric;  // back to the reference
      return champ;
    });
    const pointSeries = (label: string, v: string): uPlot.Series => ({
      label, stroke: VERDICT_COLOUR[v], fill: VERDICT_COLOUR[v], paths: () => null, points: { show: true, size: 9 },
    });
    const opts: uPlot.Options = {
      width: Math.max(300, box.clientWidth || 900), height: 260,
      scales: { x: { time: false } },
      axes: [{ label: "round", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: this.state.rounds.length ? "metric" : "" }],
      series: [{ label: "round" },
        { label: "champion", stroke: VERDICT_COLOUR.kept, width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
        pointSeries("baseline", "baseline"), pointSeries("kept", "kept"), pointSeries("discarded", "discarded"),
        pointSeries("failed", "failed")],
    };
    const data: uPlot.AlignedData = [xs, champion, only("baseline"), only("kept"), only("discarded"), only("failed")];
    this.plot = new uPlot(opts, data, box);
  }
}
