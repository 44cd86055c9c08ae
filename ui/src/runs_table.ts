// The runs table: filtering, sorting, column choice and selection over every run held in memory,
// rendered virtually (only the rows in view exist in the DOM) so 5,000+ runs stay fast.
// Owns no fetching: the app hands it runs and hears about selection and focus through callbacks.
import type { Run } from "./api";
import { fmtDuration, fmtNumber, fmtAge, el } from "./format";
import { makeFilter } from "./run_filter";

const ROW_H = 28;
const OVERSCAN = 12;

export interface Column { id: string; label: string; title?: string; param?: boolean; width: string; value: (r: Run) => string | number | null; render?: (r: Run) => string | Node; numeric?: boolean }

export interface TableCallbacks {
  onSelection(ids: string[]): void;
  onFocus(id: string): void;
  colourOf(id: string): string | null;
}

function compare(a: string | number | null, b: string | number | null): number {
  const an = a === null || a === "" || (typeof a === "number" && Number.isNaN(a));
  const bn = b === null || b === "" || (typeof b === "number" && Number.isNaN(b));
  if (an || bn) return an && bn ? 0 : an ? 1 : -1;  // blanks last either way (flipped below)
  const na = typeof a === "number" ? a : Number(a), nb = typeof b === "number" ? b : Number(b);
  const aNum = !Number.isNaN(na), bNum = !Number.isNaN(nb);
  if (aNum && bNum) return na - nb;
  if (aNum !== bNum) return aNum ? -1 : 1;  // numbers before text, as the server sorts params
  // Code-point order, as the server sorts (so the table and /api/v1/runs?sort=name agree).
  const sa = String(a), sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export class RunsTable {
  private all: Run[] = [];
  private view: Run[] = [];
  private selected = new Set<string>();
  private focused = "";
  private anchor = "";  // id of the last checkbox clicked (shift-click range)
  private sortKey = "created_at";
  private sortDir = -1;
  private filterText = "";
  private statusFilter = "";
  lastKeys: string[] = [];
  paramCols: string[] = [];
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly rowsBox: HTMLElement;
  private readonly head: HTMLElement;
  private readonly count: HTMLElement;
  private columns: Column[] = [];
  private raf = 0;

  constructor(private root: HTMLElement, private cb: TableCallbacks) {
    root.classList.add("runs");
    this.head = el("div", { class: "runs-head", role: "row" });
    this.scroller = el("div", { class: "runs-scroll", id: "runs-scroll" });
    this.spacer = el("div", { class: "runs-spacer" });
    this.rowsBox = el("div", { class: "runs-rows", role: "rowgroup" });
    this.spacer.append(this.rowsBox);
    this.scroller.append(this.head, this.spacer);
    this.count = el("div", { class: "runs-count", id: "runs-count" });
    root.append(this.scroller, this.count);
    this.scroller.addEventListener("scroll", () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
    this.rowsBox.addEventListener("click", e => this.onClick(e as MouseEvent));
    this.head.addEventListener("click", e => {
      const h = (e.target as HTMLElement).closest("[data-sort]") as HTMLElement | null;
      if (!h) return;
      const k = h.dataset.sort!;
      if (this.sortKey === k) this.sortDir = -this.sortDir;
      else { this.sortKey = k; this.sortDir = k === "name" || k === "status" ? 1 : -1; }
      this.refresh();
    });
  }

  setRuns(runs: Run[]) { this.all = runs; this.refresh(); }
  getRuns(): Run[] { return this.all; }
  visibleRuns(): Run[] { return this.view; }
  selection(): string[] { return this.all.filter(r => this.selected.has(r.id)).map(r => r.id); }
  focusedRun(): string { return this.focused; }
  sortState() { return { key: this.sortKey, dir: this.sortDir > 0 ? "asc" : "desc" }; }

  setFilter(text: string, status: string) { this.filterText = text; this.statusFilter = status; this.refresh(); }
  setSort(key: string, dir: "asc" | "desc") { this.sortKey = key; this.sortDir = dir === "asc" ? 1 : -1; this.refresh(); }
  setSelection(ids: string[], notify = true) {
    this.selected = new Set(ids);
    this.render(true);
    if (notify) this.cb.onSelection(this.selection());
  }
  setFocus(id: string) { this.focused = id; this.render(true); }

  updateRun(id: string, patch: Partial<Run>) {
    const r = this.all.find(x => x.id === id);
    if (!r) return;
    Object.assign(r, patch);
    this.render(true);
  }

  private buildColumns() {
    const cols: Column[] = [
      { id: "sel", label: "", width: "26px", value: () => null },
      { id: "status", label: "●", title: "status", width: "22px", value: r => r.status,
        render: r => el("span", { class: `dot st-${r.status}`, title: r.status, "data-status": r.status }) },
      { id: "name", label: "name", width: "minmax(110px, 1.6fr)", value: r => r.name,
        render: r => { const s = el("span", { class: "name", title: `${r.name} (${r.id})` }); const c = this.cb.colourOf(r.id);
          if (c) s.append(el("i", { class: "swatch", style: `background:${c}` })); s.append(r.name); return s; } },
      { id: "created_at", label: "age", title: "started", width: "66px", value: r => r.created_at, render: r => fmtAge(r.created_at) },
      { id: "duration_s", label: "took", title: "duration", width: "62px", value: r => r.duration_s, render: r => fmtDuration(r.duration_s), numeric: true },
    ];
    for (const k of this.lastKeys)
      cols.push({ id: `last.${k}`, label: k, title: `last value of ${k}`, width: "minmax(66px, 0.8fr)", value: r => r.last[k] ?? null,
        render: r => fmtNumber(r.last[k]), numeric: true });
    for (const k of this.paramCols)
      cols.push({ id: `param.${k}`, label: k, title: `param ${k}`, param: true, width: "minmax(54px, 0.6fr)", value: r => r.params[k] ?? null,
        render: r => r.params[k] ?? "", numeric: true });
    this.columns = cols;
    const tpl = cols.map(c => c.width).join(" ");
    this.root.style.setProperty("--cols", tpl);
    // Wider than the pane: the header and rows scroll sideways together.
    const minW = cols.reduce((a, c) => a + Number((c.width.match(/(\d+)px/) || [0, "0"])[1]), 0);
    this.root.style.setProperty("--min-w", `${minW + 8}px`);
    this.head.replaceChildren(...cols.map(c => {
      if (c.id === "sel") return el("span", { class: "cell" });
      const arrow = this.sortKey === c.id ? (this.sortDir > 0 ? " ▲" : " ▼") : "";
      return el("span", { class: `cell th${c.numeric ? " num" : ""}${c.param ? " param" : ""}`, "data-sort": c.id,
        title: `${c.title ?? c.label}: click to sort` }, c.label + arrow);
    }));
  }

  refresh() {
    const f = makeFilter(this.filterText, this.statusFilter);
    this.buildColumns();
    const col = this.columns.find(c => c.id === this.sortKey) ?? { value: (r: Run) => r.created_at };
    const dir = this.sortDir;
    this.view = this.all.filter(f).sort((a, b) => {
      const va = col.value(a), vb = col.value(b);
      const aBlank = va === null || va === "" || (typeof va === "number" && Number.isNaN(va));
      const bBlank = vb === null || vb === "" || (typeof vb === "number" && Number.isNaN(vb));
      if (aBlank || bBlank) return aBlank && bBlank ? 0 : aBlank ? 1 : -1;
      return dir * compare(va, vb) || (b.created_at - a.created_at);
    });
    this.count.textContent = `${this.view.length} of ${this.all.length} runs · ${this.selected.size} selected`;
    this.spacer.style.height = `${this.view.length * ROW_H}px`;
    this.render(true);
  }

  private schedule() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; this.render(false); });
  }

  private lastWindow = "";
  private render(force: boolean) {
    const top = this.scroller.scrollTop, h = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(this.view.length, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    const key = `${first}:${last}:${this.view.length}`;
    if (!force && key === this.lastWindow) return;
    this.lastWindow = key;
    this.count.textContent = `${this.view.length} of ${this.all.length} runs · ${this.selected.size} selected`;
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const r = this.view[i];
      const row = el("div", { class: `row${this.selected.has(r.id) ? " sel" : ""}${this.focused === r.id ? " focus" : ""}`,
        role: "row", "data-id": r.id, "data-index": String(i), style: `top:${i * ROW_H}px` });
      for (const c of this.columns) {
        if (c.id === "sel") {
          const cb = el("input", { type: "checkbox", class: "pick", "aria-label": `overlay ${r.name}` }) as HTMLInputElement;
          cb.checked = this.selected.has(r.id);
          row.append(el("span", { class: "cell" }, cb));
          continue;
        }
        const v = c.render ? c.render(r) : String(c.value(r) ?? "");
        row.append(el("span", { class: `cell${c.numeric ? " num" : ""}`, "data-col": c.id }, v));
      }
      frag.append(row);
    }
    this.rowsBox.replaceChildren(frag);
  }

  private onClick(e: MouseEvent) {
    const row = (e.target as HTMLElement).closest(".row") as HTMLElement | null;
    if (!row) return;
    const id = row.dataset.id!, index = Number(row.dataset.index);
    if ((e.target as HTMLElement).classList.contains("pick")) {
      const on = (e.target as HTMLInputElement).checked;
      const from = this.anchor ? this.view.findIndex(r => r.id === this.anchor) : -1;
      if (e.shiftKey && from >= 0) {
        const [a, b] = from < index ? [from, index] : [index, from];
        for (let i = a; i <= b; i++) on ? this.selected.add(this.view[i].id) : this.selected.delete(this.view[i].id);
      } else {
        on ? this.selected.add(id) : this.selected.delete(id);
      }
      this.anchor = id;
      this.render(true);
      this.cb.onSelection(this.selection());
      return;
    }
    this.focused = id;
    this.render(true);
    this.cb.onFocus(id);
  }
}
