// The focused run's side panel: its status, params and attempts, the timeline of events (findings,
// attempts, decisions) and its actions, with approve / deny buttons on pending remedies. Decisions
// go through api.decide only; this view never changes runs by itself.
import { decide, runDetail, type Action, type RunDetail } from "./api";
import { el, fmtClock, fmtDuration, fmtNumber } from "./format";

export const FINDING_KINDS = new Set(["nonfinite", "loss_spike", "divergence", "plateau", "grad_explosion",
  "throughput_regression", "hang", "memory_growth", "straggler"]);

export function markerColour(kind: string): string {
  if (kind.startsWith("action_")) return "#8e6bd8";
  if (kind === "audit_finding") return "#c2185b";  // what the run executes or loads failed inloop audit
  if (kind === "attempt_start" || kind === "attempt_exit") return "#7f8c8d";
  if (FINDING_KINDS.has(kind) || kind.includes("spike") || kind.includes("nan")) return "#e5484d";
  return "#d9a400";
}

export class Timeline {
  detail: RunDetail | null = null;
  onDecided: (a: Action) => void = () => {};
  onShown: (d: RunDetail) => void = () => {};  // a run's detail was read (polled or on demand)
  onJump: (step: number) => void = () => {};  // an event with a step was clicked
  onError: (m: string) => void = () => {};
  private seq = 0;
  private shownSig = "";

  constructor(private root: HTMLElement) {
    root.classList.add("timeline");
    root.addEventListener("click", e => {
      const b = (e.target as HTMLElement).closest("button[data-verdict]") as HTMLButtonElement | null;
      if (b) { void this.decideFrom(b); return; }
      const li = (e.target as HTMLElement).closest("li[data-step]") as HTMLElement | null;
      if (li) this.onJump(Number(li.dataset.step));
    });
    this.renderEmpty();
  }

  renderEmpty() {
    this.root.replaceChildren(el("h2", {}, "Timeline"), el("p", { class: "muted" }, "Click a run's name to see its timeline and pending remedies."));
  }

  async show(id: string): Promise<void> {
    const seq = ++this.seq;
    try {
      const d = await runDetail(id);
      if (seq !== this.seq) return;
      // Polled every few seconds: redraw only on change, so a note being typed survives.
      const sig = JSON.stringify(d);
      this.detail = d;
      if (sig === this.shownSig) return;
      this.shownSig = sig;
      this.render();
      this.onShown(d);
    } catch (e) {
      if (seq === this.seq) this.onError(`run ${id}: ${(e as Error).message}`);
    }
  }

  async refresh() { if (this.detail) await this.show(this.detail.run.id); }

  private async decideFrom(b: HTMLButtonElement) {
    const id = Number(b.dataset.action), verdict = b.dataset.verdict as "approve" | "deny";
    const note = (this.root.querySelector(`input[data-note="${id}"]`) as HTMLInputElement | null)?.value || "";
    this.root.querySelectorAll(`button[data-action="${id}"]`).forEach(x => ((x as HTMLButtonElement).disabled = true));
    try {
      const a = await decide(id, verdict, note);
      this.onDecided(a);
    } catch (e) {
      this.onError(`${verdict} action ${id}: ${(e as Error).message}`);
    }
    await this.refresh();
  }

  private render() {
    const d = this.detail!;
    const r = d.run;
    const head = el("div", { class: "tl-head" },
      el("h2", {}, r.name),
      el("span", { class: `status st-${r.status}`, id: "tl-status" }, r.status),
      el("span", { class: "muted", id: "tl-attempts" }, `${r.attempts} attempt${r.attempts === 1 ? "" : "s"}`),
      el("span", { class: "muted" }, fmtDuration(r.duration_s)));
    const params = el("div", { class: "tl-params" }, ...Object.entries(r.params).slice(0, 24).map(([k, v]) => el("span", { class: "kv" }, el("b", {}, k), v)));
    const pending = d.actions.filter(a => a.state === "pending");
    const pendBox = el("div", { class: "pending", id: "pending" });
    for (const a of pending) {
      pendBox.append(el("div", { class: "pend", "data-action": String(a.id) },
        el("div", {}, el("b", {}, `#${a.id} ${a.kind}`), a.step === null ? "" : ` at step ${a.step}`, a.trigger ? ` (${a.trigger})` : ""),
        el("div", { class: "reason" }, a.reason),
        el("div", { class: "row-btns" },
          el("input", { type: "text", placeholder: "note (optional)", "data-note": String(a.id) }),
          el("button", { class: "approve", "data-verdict": "approve", "data-action": String(a.id) }, "Approve"),
          el("button", { class: "deny", "data-verdict": "deny", "data-action": String(a.id) }, "Deny"))));
    }
    const actions = el("ul", { class: "actions" }, ...d.actions.map(a => el("li", { "data-action": String(a.id), "data-state": a.state },
      el("span", { class: `badge state-${a.state}` }, a.state), el("b", {}, `#${a.id} ${a.kind}`),
      a.step === null ? "" : ` step ${a.step}`, el("span", { class: "muted" }, a.decided_by ? ` · ${a.decided_by}` : ""))));
    const events = el("ol", { class: "events" }, ...d.events.slice().reverse().map(e => el("li",
      e.step === null ? { "data-kind": e.kind } : { "data-kind": e.kind, "data-step": String(e.step), title: "show this step on the charts" },
      el("i", { class: "dot", style: `background:${markerColour(e.kind)}` }),
      el("span", { class: "when" }, fmtClock(e.time).slice(11)),
      el("b", {}, e.kind), e.step === null ? "" : el("span", { class: "step" }, `step ${fmtNumber(e.step)}`),
      el("div", { class: "msg" }, e.message))));
    const notes = new Map<string, string>();
    this.root.querySelectorAll<HTMLInputElement>("input[data-note]").forEach(i => notes.set(i.dataset.note!, i.value));
    const active = (document.activeElement as HTMLElement | null)?.dataset?.note;
    pendBox.querySelectorAll<HTMLInputElement>("input[data-note]").forEach(i => { i.value = notes.get(i.dataset.note!) ?? ""; });
    this.root.replaceChildren(head, params,
      pending.length ? el("h3", {}, `Pending (${pending.length})`) : "", pendBox,
      d.actions.length ? el("h3", {}, "Actions") : "", d.actions.length ? actions : "",
      el("h3", {}, `Events (${d.events.length})`), events, hiddenEventsNote(d.hidden_events));
    if (active) (this.root.querySelector(`input[data-note="${active}"]`) as HTMLInputElement | null)?.focus();
  }
}

// "1,234 data_batches events hidden (the data index; inloop events RUN --kind data_batches)".
function hiddenEventsNote(hidden: Record<string, number>): HTMLElement | string {
  const parts = Object.entries(hidden || {}).filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n.toLocaleString("en-US")} ${kind} event${n === 1 ? "" : "s"}`);
  if (!parts.length) return "";
  return el("p", { class: "muted hidden-events" },
    `${parts.join(", ")} hidden (the data index; inloop events RUN --kind data_batches lists them)`);
}
