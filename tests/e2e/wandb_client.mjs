// Driven by wandb_api_test.sh against a running `inloop serve` (WANDB_BASE_URL, WANDB_API_KEY =
// an ingest token, READ_TOKEN = a read token, STEPS = history rows to log):
//  1. W&B's official JS/TS SDK (`@wandb/sdk` from ui/node_modules, the same wire protocol as the
//     Python client: GraphQL viewer + upsertBucket, then the file stream) runs a training
//     script's calls: init with a config, log STEPS rows, finish;
//  2. the requests W&B's Python client sends (wandb/sdk/internal/internal_api.py and its file
//     stream), as JSON over fetch: viewer, the capability probe, the resume check, upsertBucket
//     with the {"value","desc"} config and tags, history with NaN and a media value, a resend,
//     console output, a crash (exit code 1), and a call inloop does not support;
//  3. auth: a read token, a wrong key and no key are refused.
// Prints one JSON line with what it made, for the shell test to check through inloop itself.
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SRC = process.env.INLOOP_SRC || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BASE = process.env.WANDB_BASE_URL;
const KEY = process.env.WANDB_API_KEY;
const READ_TOKEN = process.env.READ_TOKEN;
const STEPS = Number(process.env.STEPS || "200");
if (!BASE || !KEY || !READ_TOKEN) throw new Error("set WANDB_BASE_URL, WANDB_API_KEY, READ_TOKEN");

function check(cond, what) {
  if (!cond) throw new Error(`FAIL: ${what}`);
}
// The SDK prints "View run at ..." with console.log; keep stdout for our one result line.
const print = (s) => process.stdout.write(s + "\n");
console.log = (...a) => process.stderr.write(a.join(" ") + "\n");

// ---- 1. the official JS SDK
async function jsSdk() {
  const sdk = await import(pathToFileURL(path.join(SRC, "ui/node_modules/@wandb/sdk/index.js")).href);
  const wandb = sdk.default;
  const run = await wandb.init({
    project: "wb-e2e",
    name: "js-sdk-run",
    config: { lr: 0.01, batch_size: 32, model: { depth: 4, act: "relu" } },
  });
  check(run.entity === "inloop", `init: the viewer's entity: ${run.entity}`);
  check(run.name === "js-sdk-run", `init: the display name came back: ${run.name}`);
  for (let step = 0; step < STEPS; step++) {
    run.log({ loss: 1 / (step + 1), acc: step / STEPS, phase: "train" });
  }
  await run.finish();
  return { js_run: run.id, js_project: run.project };
}

// ---- 2. the Python client's requests
function basic(key) {
  return `Basic ${Buffer.from(`api:${key}`).toString("base64")}`;
}
async function post(urlPath, body, key = KEY) {
  const res = await fetch(BASE + urlPath, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: basic(key), "User-Agent": "W&B Internal Client 0.17.0" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* checked by callers */ }
  return { status: res.status, json, text };
}
async function gql(query, variables = {}) {
  const r = await post("/graphql", { query, variables });
  check(r.status === 200, `graphql answered ${r.status}: ${r.text}`);
  return r.json;
}

const UPSERT = `mutation UpsertBucket(
    $id: String, $name: String, $project: String, $entity: String, $groupName: String,
    $description: String, $displayName: String, $notes: String, $commit: String,
    $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String,
    $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString) {
  upsertBucket(input: {
    id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity,
    description: $description, displayName: $displayName, notes: $notes, config: $config,
    commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo,
    jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics}) {
    bucket { id name displayName description config sweepName
      project { id name entity { id name } } historyLineCount }
    inserted
  }
}`;

async function pythonClient() {
  const v = await gql(`query Viewer { viewer { id entity username flags teams { edges { node { name } } } } }`);
  check(v.data.viewer.entity === "inloop", `viewer: ${JSON.stringify(v)}`);
  const probe = await gql(`query ProbeServerCapabilities {
      QueryType: __type(name: "Query") { ...fieldData }
      MutationType: __type(name: "Mutation") { ...fieldData } }
    fragment fieldData on __Type { fields { name } }`);
  check(probe.data.MutationType.fields.some((f) => f.name === "upsertBucket"), `probe: ${JSON.stringify(probe)}`);
  const RESUME = `query RunResumeStatus($project: String, $entity: String, $name: String!) {
      model(name: $project, entityName: $entity) { id name entity { id name }
        bucket(name: $name, missingOk: true) { id name summaryMetrics displayName logLineCount
          historyLineCount eventsLineCount historyTail eventsTail config tags } } }`;
  const before = await gql(RESUME, { project: "wb-e2e", entity: "inloop", name: "pyrun01" });
  check(before.data.model.bucket === null, `a new run has no resume state: ${JSON.stringify(before)}`);
  const config = JSON.stringify({
    epochs: { desc: null, value: 5 },
    optimizer: { desc: null, value: { name: "adam", betas: [0.9, 0.999] } },
    _wandb: { desc: null, value: { cli_version: "0.17.0", python_version: "3.11.4" } },
  });
  const up = await gql(UPSERT, { name: "pyrun01", project: "wb-e2e", entity: "inloop", config,
    tags: ["baseline", "py"], jobType: "train", groupName: "exp-1", host: "gpu-node-3", program: "train.py" });
  check(up.data.upsertBucket.inserted === true, `upsertBucket inserted: ${JSON.stringify(up)}`);
  const fsPath = "/files/inloop/wb-e2e/pyrun01/file_stream";
  const rows = [];
  for (let step = 0; step < 250; step++) {
    rows.push(`{"val/loss": ${1 / (step + 1)}, "lr": 0.01, "_step": ${step}, "_runtime": ${step / 10}, "_timestamp": ${1700000000 + step}}`);
  }
  rows.push(`{"val/loss": NaN, "sample": {"_type": "image-file", "path": "media/x.png"}, "_step": 250, "_runtime": 25.1, "_timestamp": 1700000250}`);
  const first = { files: {
      "wandb-history.jsonl": { offset: 0, content: rows.slice(0, 200) },
      "output.log": { offset: 0, content: ["2024-01-01T00:00:00.000000 epoch 1", "ERROR 2024-01-01T00:00:01.000000 warn"] } } };
  let r = await post(fsPath, first);
  check(r.status === 200 && r.json.inloop.points === 400, `file stream 1: ${r.status} ${r.text}`);
  // The client did not see the answer and sends the same chunk again with the rest.
  r = await post(fsPath, { files: { "wandb-history.jsonl": { offset: 0, content: rows },
      "wandb-summary.json": { offset: 0, content: [`{"val/loss": 0.004, "best": "epoch-4", "_step": 250}`] } } });
  check(r.status === 200 && r.json.inloop.resent_lines_skipped === 200, `a resend skips what is stored: ${r.text}`);
  check(r.json.inloop.non_numeric_values_skipped === 1, `the media value is counted: ${r.text}`);
  const resumed = await gql(RESUME, { project: "wb-e2e", entity: "inloop", name: "pyrun01" });
  check(resumed.data.model.bucket.historyLineCount === 251, `resume state: ${JSON.stringify(resumed)}`);
  check(resumed.data.model.bucket.historyTail === '["{\\"_step\\": 250}"]', `history tail: ${resumed.data.model.bucket.historyTail}`);
  r = await post(fsPath, { complete: true, exitcode: 1, preempting: false, uploaded: [] });
  check(r.status === 200, `finish: ${r.text}`);
  // Uploading run files is not something inloop stores: a clear GraphQL error names it.
  const files = await post("/graphql", { query: `mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
      createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
        runID uploadHeaders files { name uploadUrl } } }`,
    variables: { entity: "inloop", project: "wb-e2e", run: "pyrun01", files: ["config.yaml"] } });
  const msg = files.json?.errors?.[0]?.message || "";
  check(msg.includes("'CreateRunFiles'") && msg.includes("not supported by inloop"), `unsupported call: ${files.text}`);
  return { py_run: up.data.upsertBucket.bucket.id };
}

// ---- 3. auth
async function auth() {
  let r = await post("/graphql", { query: "{ viewer { entity } }" }, READ_TOKEN);
  check(r.status === 403, `a read token cannot log: ${r.status} ${r.text}`);
  r = await post("/graphql", { query: "{ viewer { entity } }" }, "not-a-token");
  check(r.status === 401, `a wrong key: ${r.status}`);
  const res = await fetch(BASE + "/graphql", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query: "{ viewer { entity } }" }) });
  check(res.status === 401, `no key: ${res.status}`);
}

const out = { ...(await jsSdk()), ...(await pythonClient()) };
await auth();
print(JSON.stringify(out));
