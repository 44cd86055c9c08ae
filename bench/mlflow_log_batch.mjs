// Issue 18's MLflow target: an MLflow client logs 1,000,000 points into one run through
// runs/log-batch at >= 100k points/s. Starts `inloop serve` on a fresh store, creates a run the
// way MLflow's clients do, then sends log-batch requests of MLflow's maximum (1000 metrics) over
// keep-alive HTTP, one request in flight per client (MLflow's clients wait for each answer), and
// checks that the store holds every point. Prints points/s end to end (request JSON built,
// sent, parsed, validated, appended, flushed to the WAL, answered).
//
//   node bench/mlflow_log_batch.mjs [--points 1000000] [--clients 1] [--keys 10]
//   (INLOOP_BIN: the binary; default build/inloop)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = process.env.INLOOP_BIN || path.join(SRC, "build/inloop");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const POINTS = arg("points", 1_000_000), CLIENTS = arg("clients", 1), KEYS = arg("keys", 10);
const BATCH = 1000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inloop-mlflow-bench-"));
const store = path.join(dir, "store");
const token = execFileSync(BIN, ["token", "create", "bench", "--scope", "ingest", "--store", store],
  { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
const server = spawn(BIN, ["serve", "--port", "0", "--store", store], { stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/inloop serve: (http:\/\/[^/ ?]+)/);
    if (m) resolve(m[1]);
  });
  server.on("exit", () => reject(new Error("inloop serve exited")));
});
const post = async (endpoint, body) => {
  const res = await fetch(`${url}/api/2.0/mlflow/${endpoint}`, { method: "POST", body: JSON.stringify(body),
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${endpoint}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
};
try {
  const run_id = (await post("runs/create", { experiment_id: "0", run_name: "bench" })).run.info.run_id;
  const requests = Math.ceil(POINTS / BATCH);
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      const r = next++;
      const metrics = [];
      for (let i = 0; i < BATCH; i++) {
        const n = r * BATCH + i;
        metrics.push({ key: `m${n % KEYS}`, value: Math.sin(n * 1e-3), timestamp: t0 + n, step: Math.floor(n / KEYS) });
      }
      await post("runs/log-batch", { run_id, metrics, params: [], tags: [] });
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  const seconds = (Date.now() - t0) / 1000;
  await post("runs/update", { run_id, status: "FINISHED" });
  const show = JSON.parse(execFileSync(BIN, ["show", run_id, "--json", "--store", store], { encoding: "utf8" }));
  const stored = show.series.reduce((a, s) => a + s.points, 0);
  if (stored !== requests * BATCH) throw new Error(`stored ${stored} of ${requests * BATCH} points`);
  console.log(`mlflow log-batch: ${requests * BATCH} points in ${seconds.toFixed(2)} s = ` +
    `${Math.round(requests * BATCH / seconds)} points/s (${CLIENTS} client(s), ${KEYS} keys, all stored)`);
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.on("exit", r));
  fs.rmSync(dir, { recursive: true, force: true });
}
