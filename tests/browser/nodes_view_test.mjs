// The dashboard's lemon-node table (issue 17) in a real browser: `inloop run --continue-run` inside
// a faked Slurm job (SLURM_JOB_ID, SLURMD_NODENAME, a stand-in scontrol on PATH) whose process dies
// with an Xid line records node faults; `inloop serve` over that store shows a "nodes" button whose table is
// what GET /api/v1/nodes and `inloop nodes --json` say, also opened directly by ?view=nodes.
import fs from "node:fs";
import path from "node:path";
import { api, check, done, eq, inloop, launch, screenshot, serve, tempDir } from "./browser.mjs";

const PY = process.env.INLOOP_PYTHON || "/usr/bin/python3";
const work = tempDir("inloop-nodesview-");
const store = path.join(work, "store");
const bin = path.join(work, "bin");
fs.mkdirSync(bin);
fs.writeFileSync(path.join(bin, "scontrol"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
fs.writeFileSync(path.join(work, "xid.py"),
  "import sys\nprint('NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.', file=sys.stderr)\nsys.exit(1)\n");

const faults = [["gpu-a", "11"], ["gpu-b", "12"], ["gpu-a", "13"]];
for (const [node, job] of faults) {
  const env = { INLOOP_STORE: store, SLURM_JOB_ID: job, SLURMD_NODENAME: node, PATH: `${bin}:${process.env.PATH}` };
  let code = 0;
  try {
    inloop(["run", "--continue-run", `key-${job}`, "--name", `job-${job}`, "--", PY, "xid.py"], { cwd: work, env, stdio: "ignore" });
  } catch (e) {
    code = e.status;
  }
  eq(code, 10, `job ${job} on ${node}: requeued (exit 10)`);
}
const cli = JSON.parse(inloop(["nodes", "--json"], { cwd: work, env: { INLOOP_STORE: store } }));
eq(cli.map(n => [n.node, n.faults, n.runs]), [["gpu-a", 2, 2], ["gpu-b", 1, 1]], "inloop nodes: the ledger");

const srv = await serve(store);
const get = api(srv);
const nodes = (await get("/api/v1/nodes")).nodes;
eq(nodes, cli, "the API's ledger is the CLI's");

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  await page.goto(srv.url("/"));
  await page.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector("#nodes-button").hidden, null, { timeout: 10000 });
  eq(await page.locator("#nodes-button").textContent(), "nodes (2)", "the header's nodes button");
  check(await page.locator("#nodes-view").isHidden(), "the table starts closed");
  await page.click("#nodes-button");
  await page.waitForFunction(() => document.querySelectorAll("#nodes-table tbody tr").length > 0, null, { timeout: 10000 });
  const rows = await page.evaluate(() =>
    [...document.querySelectorAll("#nodes-table tbody tr")].map(tr => [...tr.children].map(td => td.textContent)));
  eq(rows.map(r => [r[0], r[1], r[2], r[4]]), [["gpu-a", "2", "2", "2 gpu_fault"], ["gpu-b", "1", "1", "1 gpu_fault"]],
    "one row per node: faults, runs, classes");
  await screenshot(page, "nodes-view.png");

  const direct = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await direct.goto(srv.url("/?view=nodes"));
  await direct.waitForFunction(() => document.querySelectorAll("#nodes-table tbody tr").length > 0, null, { timeout: 15000 });
  eq(await direct.locator("#nodes-table tbody tr").count(), 2, "?view=nodes opens the table directly");
  eq(errors, [], "no script errors");
} finally {
  await browser.close();
  srv.proc.kill("SIGTERM");
}
fs.rmSync(work, { recursive: true, force: true });
done();
