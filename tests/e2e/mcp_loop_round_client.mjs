// Driven by mcp_loop_round_test.sh: the official MCP TypeScript SDK's Client spawns `inloop mcp`
// in a repository with a research loop (baseline measured) and submits changes with loop_round:
// a diff that improves the metric (kept, with gain, noise, seeds and p-value), a branch whose
// change is worse (discarded), a diff that does not apply (rejected); refusals: both arguments,
// the repository held by another `loop run`, and (second server) no loop initialised. Every
// assertion is on inloop's own fields and messages.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const SRC = process.env.INLOOP_SRC;
const BIN = process.env.INLOOP_BIN;
const REPO = process.env.REPO;
const NOLOOP = process.env.NOLOOP;
const LOCK = process.env.LOCK;
const require = createRequire(path.join(SRC, "ui/package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const LONG = { timeout: 120000 };

async function connect(cwd) {
  const transport = new StdioClientTransport({
    command: BIN, args: ["mcp", "--store", path.join(cwd, ".inloop")], cwd,
    env: { ...process.env, NO_COLOR: "1" }, stderr: "inherit",
  });
  const client = new Client({ name: "inloop-e2e-loop", version: "0" });
  await client.connect(transport);
  return client;
}
async function call(client, args) {
  const r = await client.callTool({ name: "loop_round", arguments: args }, undefined, LONG);
  const text = r.content[0].text;
  return { isError: !!r.isError, text, json: JSON.parse(text) };
}
async function round(client, args) {
  const r = await call(client, args);
  assert.equal(r.isError, false, `loop_round failed: ${r.text}`);
  return r.json;
}
async function refused(client, args, message) {
  const r = await call(client, args);
  assert.equal(r.isError, true, `loop_round was not refused: ${r.text}`);
  assert.ok(r.json.error.includes(message), `'${message}' not in: ${r.json.error}`);
}

const client = await connect(REPO);
const { tools } = await client.listTools();
const tool = tools.find((t) => t.name === "loop_round");
assert.ok(tool, "loop_round is listed");
assert.equal(tool.inputSchema.type, "object");
assert.equal(tool.inputSchema.additionalProperties, false);
assert.deepEqual(Object.keys(tool.inputSchema.properties).sort(), ["branch", "diff"]);
console.log("ok: tools/list has loop_round with a strict schema");

await refused(client, { diff: "x", branch: "y" }, "give exactly one of diff");
const badArg = await client.callTool({ name: "loop_round", arguments: { patch: "x" } }, undefined, LONG);
assert.equal(!!badArg.isError, true, "an unknown argument is refused by the schema");

// A diff that improves the metric (a: 5 -> 1): kept, with the gate's numbers.
const better = "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a = 5\n+a = 1\n";
const kept = await round(client, { diff: better });
assert.equal(kept.verdict, "kept", JSON.stringify(kept));
assert.ok(kept.gain > 3.9 && kept.gain < 4.1, `gain ${kept.gain}`);
assert.ok(kept.seeds >= 1 && kept.seeds <= 2, `seeds ${kept.seeds}`);
assert.ok(kept.noise_sd > 0, `noise_sd ${kept.noise_sd}`);
assert.ok(kept.p_value !== null && kept.p_value < 0.05, `p_value ${kept.p_value}`);
assert.ok(kept.threshold > 0 && kept.threshold < kept.gain, `threshold ${kept.threshold}`);
assert.match(kept.commit, /^[0-9a-f]{40}$/);
assert.equal(kept.record.proposer, "submitted");
console.log(`ok: diff kept (round ${kept.round}, gain ${kept.gain}, p ${kept.p_value})`);

// A branch whose change is worse (b: 5 -> 7): discarded, nothing committed.
const worse = await round(client, { branch: "agent-idea" });
assert.equal(worse.verdict, "discarded", JSON.stringify(worse));
assert.ok(worse.gain < 0, `gain ${worse.gain}`);
assert.equal(worse.commit, "");
assert.deepEqual(worse.record.changed_files, ["b.txt"]);
console.log(`ok: branch discarded (round ${worse.round}, gain ${worse.gain})`);

// A diff against something the champion no longer has: rejected before anything runs.
const stale = await round(client, { diff: better });
assert.equal(stale.verdict, "rejected", JSON.stringify(stale));
assert.ok(stale.reason.includes("does not apply to the champion"), stale.reason);
assert.deepEqual(stale.record.run_ids, []);
console.log("ok: a diff that does not apply is rejected");

// Another `loop run` holds the repository: refused with the reason.
const holder = spawn("/usr/bin/python3", ["-c",
  "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(120)", LOCK],
  { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  holder.stdout.on("data", (d) => { if (String(d).includes("locked")) resolve(); });
  holder.on("exit", () => reject(new Error("the lock holder exited")));
});
await refused(client, { diff: better }, "another `inloop loop run` holds the repository");
holder.kill("SIGKILL");
console.log("ok: refused while another loop run holds the repository");
await client.close();

const other = await connect(NOLOOP);
await refused(other, { diff: better }, "no research loop is initialised");
await other.close();
console.log("ok: refused where no loop is initialised");
