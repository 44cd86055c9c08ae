// Issue 18's W&B target: a W&B client's file stream at >= 100k history rows/min. Starts
// `inloop serve` on a fresh store and, in the same run:
//   1. W&B file stream: creates a run with upsertBucket (GraphQL, as W&B's clients do), then
//      POSTs /files/inloop/PROJECT/RUN/file_stream chunks shaped as the Python client sends them
//      ({"files": {"wandb-history.jsonl": {"offset", "content": [JSON lines]}, "wandb-summary.json"
//      ...}}, each line KEYS metrics plus _step/_runtime/_timestamp), one request in flight;
//   2. baseline: the same values through MLflow's runs/log-batch (1,000 metrics a request, one in
//      flight) into another run of the same server, so the two are compared on one machine at one
//      load;
//   3. optional (--sdk N, N <= 10000): W&B's official JS SDK (@wandb/sdk from ui/node_modules)
//      logging N rows and finishing. Its own pace bounds that figure: it sends every 2 s (10 s
//      after 30 s, 30 s after 150 s) at most 10,000 rows a request, and at finish sends one last
//      request of at most 10,000 rows and drops what is left (its internal/filestream.js).
// Checks that the store holds every point of each, and prints rows/min and points/s.
//
//   node bench/wandb_file_stream.mjs [--rows 200000] [--keys 10] [--chunk 1000] [--sdk 0] [--baseline 1]
//   (--baseline 0 skips the log-batch comparison; the file stream's request bodies are built before
//   its clock starts, and the server's own CPU time for them is printed beside the wall figure)
//   (INLOOP_BIN: the binary; default build/inloop)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = process.env.INLOOP_BIN || path.join(SRC, "build/inloop");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROWS = arg("rows", 200_000), KEYS = arg("keys", 10), CHUNK = arg("chunk", 1000);
const SDK_ROWS = arg("sdk", 0), BASELINE = arg("baseline", 1);
if (SDK_ROWS > 10000) throw new Error("--sdk: at most 10000 (the JS SDK drops rows past 10,000 pending at finish)");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inloop-wandb-bench-"));
const store = path.join(dir, "store");
const token = execFileSync(BIN, ["token", "create", "bench", "--scope", "ingest", "--store", store],
  { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
const server = spawn(BIN, ["serve", "--port", "0", "--store", store], { stdio: ["ignore", "pipe", "ignore"] });
const url = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/inloop serve: (http:\/\/[^/ ?]+)/);
    if (m) resolve(m[1]);
  });
  server.on("exit", () => reject(new Error("inloop serve exited")));
});
const basic = `Basic ${Buffer.from(`api:${token}`).toString("base64")}`;
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
const post = (urlPath, body, auth = basic) => postText(urlPath, JSON.stringify(body), auth);
const postText = async (urlPath, body, auth = basic) => {
  const res = await fetch(url + urlPath, { method: "POST", body,
    headers: { Authorization: auth, "Content-Type": "application/json" } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${urlPath}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
};
const storedPoints = (run) => {
  const show = JSON.parse(execFileSync(BIN, ["show", run, "--json", "--store", store], { encoding: "utf8" }));
  return show.series.reduce((a, s) => a + s.points, 0);
};

// The server's CPU seconds so far (user + sys, from /proc; Linux only).
const serverCpu = () => {
  const f = fs.readFileSync(`/proc/${server.pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
};

async function fileStream() {
  const up = await post("/graphql", {
    query: `mutation UpsertBucket($name: String, $project: String, $config: JSONString) {
      upsertBucket(input: {name: $name, modelName: $project, config: $config}) { bucket { id } inserted } }`,
    variables: { name: "benchrun", project: "bench", config: JSON.stringify({ lr: { value: 0.01, desc: null } }) },
  });
  const run = up.data.upsertBucket.bucket.id;
  const t0 = Date.now();
  // The request bodies are built before the clock starts: the client's own JSON work (on the
  // same 2 cores) is not the server's cost.
  const bodies = [];
  for (let offset = 0; offset < ROWS; offset += CHUNK) {
    const content = [];
    const last = Math.min(ROWS, offset + CHUNK);
    let row = {};
    for (let step = offset; step < last; step++) {
      row = { _step: step, _runtime: step / 100, _timestamp: t0 / 1000 + step / 100 };
      for (let k = 0; k < KEYS; k++) row[`m${k}`] = Math.sin(step * 1e-3 + k);
      content.push(JSON.stringify(row));
    }
    bodies.push(JSON.stringify({ files: {
      "wandb-history.jsonl": { offset, content },
      "wandb-summary.json": { offset: 0, content: [JSON.stringify(row)] } } }));
  }
  const cpu0 = serverCpu(), t1 = Date.now();
  for (const body of bodies) await postText("/files/inloop/bench/benchrun/file_stream", body);
  const seconds = (Date.now() - t1) / 1000, cpu = serverCpu() - cpu0;
  await post("/files/inloop/bench/benchrun/file_stream", { complete: true, exitcode: 0 });
  const stored = storedPoints(run);
  if (stored !== ROWS * KEYS) throw new Error(`file stream: stored ${stored} of ${ROWS * KEYS} points`);
  return { seconds, cpu };
}

async function mlflowBaseline() {
  const bearer = `Bearer ${token}`;
  const run_id = (await post("/api/2.0/mlflow/runs/create", { experiment_id: "0", run_name: "baseline" }, bearer)).run.info.run_id;
  const total = ROWS * KEYS;
  const t0 = Date.now();
  for (let first = 0; first < total; first += 1000) {
    const metrics = [];
    for (let n = first; n < Math.min(total, first + 1000); n++) {
      const step = Math.floor(n / KEYS), k = n % KEYS;
      metrics.push({ key: `m${k}`, value: Math.sin(step * 1e-3 + k), timestamp: t0 + step * 10, step });
    }
    await post("/api/2.0/mlflow/runs/log-batch", { run_id, metrics, params: [], tags: [] }, bearer);
  }
  const seconds = (Date.now() - t0) / 1000;
  await post("/api/2.0/mlflow/runs/update", { run_id, status: "FINISHED" }, bearer);
  const stored = storedPoints(run_id);
  if (stored !== total) throw new Error(`log-batch: stored ${stored} of ${total} points`);
  return seconds;
}

async function sdk() {
  process.env.WANDB_BASE_URL = url;
  process.env.WANDB_API_KEY = token;
  const wandb = (await import(pathToFileURL(path.join(SRC, "ui/node_modules/@wandb/sdk/index.js")).href)).default;
  const log = console.log;
  console.log = () => {};
  const run = await wandb.init({ project: "bench", name: "sdk" });
  const t0 = Date.now();
  for (let step = 0; step < SDK_ROWS; step++) {
    const row = {};
    for (let k = 0; k < KEYS; k++) row[`m${k}`] = Math.sin(step * 1e-3 + k);
    run.log(row);
  }
  await run.finish();
  const seconds = (Date.now() - t0) / 1000;
  console.log = log;
  const runs = JSON.parse(execFileSync(BIN, ["runs", "--json", "--store", store], { encoding: "utf8" }));
  const id = runs.find((r) => r.name === "sdk").id;
  // Each row also carries _runtime/_timestamp, which are not series.
  const stored = storedPoints(id);
  if (stored !== SDK_ROWS * KEYS) throw new Error(`sdk: stored ${stored} of ${SDK_ROWS * KEYS} points`);
  return seconds;
}

const perMin = (rows, s) => Math.round((rows / s) * 60);
try {
  const fsRun = await fileStream();
  const fsSeconds = fsRun.seconds;
  const points = ROWS * KEYS;
  console.log(`wandb file stream: ${ROWS} rows x ${KEYS} keys in ${fsSeconds.toFixed(2)} s = ` +
    `${perMin(ROWS, fsSeconds)} rows/min (${Math.round(points / fsSeconds)} points/s, ${CHUNK} rows a request, all stored); ` +
    `server CPU ${fsRun.cpu.toFixed(2)} s = ${perMin(ROWS, fsRun.cpu)} rows per CPU-minute`);
  if (BASELINE) {
    const mlSeconds = await mlflowBaseline();
    console.log(`mlflow log-batch baseline: the same ${points} points in ${mlSeconds.toFixed(2)} s = ` +
      `${Math.round(points / mlSeconds)} points/s (${perMin(ROWS, mlSeconds)} rows/min equivalent, all stored)`);
    console.log(`ratio file stream / log-batch: ${(mlSeconds / fsSeconds).toFixed(2)}`);
  }
  if (SDK_ROWS > 0) {
    const s = await sdk();
    console.log(`@wandb/sdk end to end: ${SDK_ROWS} rows x ${KEYS} keys in ${s.toFixed(2)} s = ` +
      `${perMin(SDK_ROWS, s)} rows/min (the SDK sends every 2 s, at most 10,000 rows a request; all stored)`);
  }
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.on("exit", r));
  fs.rmSync(dir, { recursive: true, force: true });
}
