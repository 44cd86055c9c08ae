// The lemon-node ledger (issue 17): Slurm nodes with the hardware faults (Xid, ECC, NCCL) runs saw
// on them, most faults first, from GET /api/v1/nodes. A "nodes" button in the header opens the
// table when the store has any; ?view=nodes opens it directly.
import { listNodes, type NodeFaults } from "./api";
import { el, fmtClock } from "./format";

export class NodesView {
  nodes: NodeFaults[] = [];
  private panel = el("section", { id: "nodes-view", class: "loop-view nodes-view", hidden: "" });
  private button = el("button", { id: "nodes-button", class: "ghost", hidden: "" }, "nodes");

  constructor(header: HTMLElement) {
    header.insertBefore(this.button, header.querySelector(".spacer"));
    document.body.append(this.panel);
    this.button.addEventListener("click", () => { if (this.panel.hidden) this.open(); else this.panel.hidden = true; });
  }

  async init(params: URLSearchParams): Promise<void> {
    this.nodes = await listNodes();
    this.button.hidden = this.nodes.length === 0;
    this.button.textContent = `nodes (${this.nodes.length})`;
    if (params.get("view") === "nodes") this.open();
  }

  open() {
    this.panel.hidden = false;
    const close = el("button", { class: "ghost" }, "close");
    close.addEventListener("click", () => { this.panel.hidden = true; });
    const head = el("div", { class: "loop-head" }, el("h2", {}, "Lemon nodes"), el("span", { class: "spacer" }), close);
    if (!this.nodes.length) {
      this.panel.replaceChildren(head, el("p", { class: "muted" }, "No hardware fault of a run inside a Slurm job is recorded in this store."));
      return;
    }
    const rows = this.nodes.map(n => el("tr", {},
      el("td", { class: "mono" }, n.node), el("td", {}, String(n.faults)), el("td", {}, String(n.runs)),
      el("td", {}, fmtClock(n.last_time)),
      el("td", {}, Object.entries(n.classes).map(([c, k]) => `${k} ${c}`).join(", "))));
    const table = el("table", { id: "nodes-table" },
      el("thead", {}, el("tr", {}, ...["node", "faults", "runs", "last fault", "classes"].map(h => el("th", {}, h)))),
      el("tbody", {}, ...rows));
    this.panel.replaceChildren(head,
      el("p", { class: "muted" }, "Counted from node_fault events across runs; inloop submit --slurm excludes nodes with --exclude-after faults or more."),
      table);
  }
}
