// Driven by mcp_sdk_test.sh: the official MCP TypeScript SDK's Client, over StdioClientTransport,
// spawns `inloop mcp` in a project whose inloop.toml allows /usr/bin/python3, and runs
// experiments through it: start_run (a real PyTorch run that hits a NaN and is rolled back by the
// doctor), a run stopped by its budget, the concurrency limit, refusals (command not allowed,
// budget over the maximum, cwd outside the project), wait_run, run_status, stop_run and
// propose_action. Every assertion is on inloop's own fields and messages.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";

const SRC = process.env.INLOOP_SRC;
const BIN = process.env.INLOOP_BIN;
const WORK = process.cwd();
const require = createRequire(path.join(SRC, "ui/package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");

const transport = new StdioClientTransport({
  command: BIN,
  args: ["mcp", "--store", path.join(WORK, "store")],
  cwd: WORK,
  env: { ...process.env, NO_COLOR: "1" },
  stderr: "inherit",
});
const client = new Client({ name: "inloop-e2e", version: "0" });
await client.connect(transport);
const LONG = { timeout: 180000 };  // a request may wait on a run: above wait_run's timeout_s

async function call(name, args) {
  const r = await client.callTool({ name, arguments: args }, undefined, LONG);
  const text = r.content[0].text;
  return { isError: !!r.isError, text, json: r.isError ? null : JSON.parse(text) };
}
async function ok(name, args) {
  const r = await call(name, args);
  assert.equal(r.isError, false, `${name} failed: ${r.text}`);
  return r.json;
}
async function refused(name, args, message) {
  const r = await call(name, args);
  assert.equal(r.isError, true, `${name} was not refused: ${r.text}`);
  const error = JSON.parse(r.text).error;  // inloop's own one-line reason
  assert.ok(error.includes(message), `${name}: '${message}' not in: ${error}`);
}

// tools/list: the run tools with their strict schemas.
const { tools } = await client.listTools();
const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
for (const n of ["start_run", "run_status", "wait_run", "stop_run", "propose_action", "list_runs"]) {
  assert.ok(byName[n], `tool ${n} missing`);
  assert.equal(byName[n].inputSchema.type, "object");
  assert.equal(byName[n].inputSchema.additionalProperties, false, n);
}
const start = byName.start_run.inputSchema;
assert.equal(start.properties.command.type, "array");
assert.equal(start.properties.command.items.type, "string");
assert.deepEqual(start.properties.policy.enum.filter((v) => v !== null), ["auto", "ask", "observe"]);
assert.equal(byName.wait_run.inputSchema.properties.timeout_s.maximum, 600);
console.log("ok: tools/list has start_run, run_status, wait_run, stop_run, propose_action");

// Refusals, before anything starts.
await refused("start_run", { command: ["/bin/sh", "-c", "echo hi"] },
  'command ["/bin/sh", "-c", "echo hi"] is not allowed');
await refused("start_run", { command: ["/usr/bin/python3", "train.py"], budget_s: 121 },
  "over [mcp] max_budget_s = 120");
await refused("start_run", { command: ["/usr/bin/python3", "train.py"], cwd: ".." },
  "outside the project directory");
console.log("ok: command not allowed, budget over the maximum, cwd outside: refused");

// A PyTorch run that the doctor rolls back, and a run its budget stops, side by side.
const torchRun = (await ok("start_run", { command: ["/usr/bin/python3", "train.py"], name: "mcp-torch", budget_s: 120 })).run_id;
const sleeper = (await ok("start_run", {
  command: ["/usr/bin/python3", "-c", "import time\nfor i in range(1200):\n    print('step %d loss %f' % (i + 1, 1.0 / (i + 1)), flush=True)\n    time.sleep(0.1)"],
  name: "mcp-budget", budget_s: 3,
})).run_id;
assert.ok(torchRun && sleeper && torchRun !== sleeper);
await refused("start_run", { command: ["/usr/bin/python3", "train.py"] }, "max_concurrent_runs");
console.log(`ok: started ${torchRun} and ${sleeper}; a third is refused by max_concurrent_runs`);

const stopped = await ok("wait_run", { run: sleeper, timeout_s: 120 });
assert.equal(stopped.status, "stopped", JSON.stringify(stopped));
assert.equal(stopped.started_here, true);
assert.equal(stopped.budget_s, 3);
assert.equal(stopped.stopped_by_budget, true, JSON.stringify(stopped));
console.log(`ok: the budget stopped ${sleeper}: status ${stopped.status}`);

// stop_run on a running run of ours: the supervisor records it as stopped.
const victim = (await ok("start_run", {
  command: ["/usr/bin/python3", "-c", "import time\nfor i in range(1200):\n    print('step %d loss %f' % (i + 1, 1.0 / (i + 1)), flush=True)\n    time.sleep(0.1)"],
  name: "mcp-stop",
})).run_id;
const stopping = await ok("stop_run", { run: victim });
assert.equal(stopping.stopping, true, JSON.stringify(stopping));
const gone = await ok("wait_run", { run: victim, timeout_s: 120 });
assert.equal(gone.status, "stopped", JSON.stringify(gone));
assert.equal(gone.stopped_by_budget, false);
assert.equal(gone.budget_s, 120);  // none asked: [mcp] max_budget_s
console.log(`ok: stop_run stopped ${victim}`);

const done = await ok("wait_run", { run: torchRun, timeout_s: 120 });
assert.equal(done.status, "finished", JSON.stringify(done));
const st = await ok("run_status", { run: "mcp-torch" });
assert.equal(st.run_id, torchRun);
assert.equal(st.status, "finished");
assert.equal(st.exit_code, 0);
assert.equal(st.attempts, 2, JSON.stringify(st));
assert.ok(st.findings.nonfinite >= 1, JSON.stringify(st.findings));
assert.equal(st.last.loss.step, 40, JSON.stringify(st.last));
assert.equal(typeof st.last.loss.value, "number");  // finite after the rollback
assert.equal(typeof st.ettr, "number");
assert.ok(st.ettr > 0 && st.ettr <= 1, `ettr ${st.ettr}`);
assert.equal(st.stopped_by_budget, false);
console.log(`ok: ${torchRun} finished after 2 attempts, findings ${JSON.stringify(st.findings)}, ETTR ${st.ettr.toFixed(3)}`);

// stop_run: a finished run of ours has nothing to stop; a run started elsewhere is refused.
const late = await ok("stop_run", { run: torchRun });
assert.equal(late.stopping, false);
await refused("stop_run", { run: "outside-run" }, "was not started by this server");

// propose_action: pending for a person, never applied.
const prop = await ok("propose_action", { run: torchRun, action: "lr_cut", reason: "the loss went NaN at step 25: halve the learning rate", plan: { lr_scale: 0.5 } });
assert.ok(typeof prop === "object");
await ok("propose_action", { run: torchRun, action: "stop", reason: "enough for today" });
await refused("propose_action", { run: torchRun, action: "rm_rf", reason: "x" }, "action");
console.log("ok: stop_run refused for a run started elsewhere; propose_action recorded");
await client.close();
