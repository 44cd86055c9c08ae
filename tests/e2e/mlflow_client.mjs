// Driven by mlflow_api_test.sh against a running `inloop serve` (MLFLOW_TRACKING_URI,
// MLFLOW_TRACKING_TOKEN = an ingest token, READ_TOKEN = a read token):
//  1. the npm package `mlflow` (a Node.js MLflow REST client written elsewhere, from ui/node_modules)
//     creates an experiment and a run, logs params, metrics (with a step going back), a batch and
//     tags, ends the run and reads it back;
//  2. the exact request sequence MLflow's Python client sends (mlflow/store/tracking/rest_store.py
//     and the fluent API: set_experiment, start_run, log_params, set_tags, log_metric, log_batch,
//     end_run, get_metric_history, search_runs), as JSON over fetch;
//  3. scopes: a read token may search but not write; no token is refused.
// Prints one JSON line with the ids it made, for the shell test to check through inloop itself.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SRC = process.env.INLOOP_SRC || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(SRC, "ui/package.json"));
const MLflow = require("mlflow");

const URI = process.env.MLFLOW_TRACKING_URI;
const TOKEN = process.env.MLFLOW_TRACKING_TOKEN;
const READ_TOKEN = process.env.READ_TOKEN;
if (!URI || !TOKEN || !READ_TOKEN) throw new Error("set MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, READ_TOKEN");

function check(cond, what) {
  if (!cond) throw new Error(`FAIL: ${what}`);
}

// The package prints every POST body with console.log; keep stdout for our one result line.
const print = (s) => process.stdout.write(s + "\n");
console.log = () => {};

// ---- 1. the npm client
async function npmClient() {
  const client = new MLflow({ endpoint: URI, headers: { Authorization: `Bearer ${TOKEN}` } });
  const { Experiments, Runs, Metrics } = client;
  const { experiment_id } = await Experiments.create({ name: "npm-exp" });
  check(/^[0-9]+$/.test(experiment_id), `experiments/create gave an id: ${experiment_id}`);
  const got = await Experiments.get({ experiment_id });
  check(got.experiment.name === "npm-exp", "experiments/get names it");
  const listed = await Experiments.list();
  check(listed.experiments.some((e) => e.name === "npm-exp"), "experiments/list has it");

  const t0 = Date.now();
  const { run } = await Runs.create({ experiment_id, start_time: t0,
    tags: [{ key: "mlflow.runName", value: "npm-run" }, { key: "team", value: "vision" }] });
  const run_id = run.info.run_id;
  check(run.info.status === "RUNNING", "a new run is RUNNING");
  await Runs.logParameter({ run_id, key: "lr", value: "0.001" });
  for (let step = 0; step < 20; step++) {
    await Runs.logMetric({ run_id, key: "loss", value: 1 / (step + 1), timestamp: t0 + step, step });
  }
  // A step going back (a resumed loop): kept as a new segment, nothing overwritten.
  await Runs.logMetric({ run_id, key: "loss", value: 0.9, timestamp: t0 + 100, step: 5 });
  const metrics = [];
  for (let step = 0; step < 500; step++) metrics.push({ key: "acc", value: step / 500, timestamp: t0 + step, step });
  await Runs.logBatch({ run_id, metrics, params: [{ key: "batch_size", value: "32" }], tags: [{ key: "stage", value: "train" }] });
  await Runs.setTag({ run_id, key: "stage", value: "eval" });
  await Runs.update({ run_id, status: "FINISHED", end_time: t0 + 5000 });

  const back = await Runs.get({ run_id });
  check(back.run.info.status === "FINISHED", "runs/get: FINISHED");
  const params = Object.fromEntries(back.run.data.params.map((p) => [p.key, p.value]));
  check(params.lr === "0.001" && params.batch_size === "32", `runs/get params: ${JSON.stringify(params)}`);
  const tags = Object.fromEntries(back.run.data.tags.map((p) => [p.key, p.value]));
  check(tags.stage === "eval" && tags.team === "vision", `runs/get tags: ${JSON.stringify(tags)}`);
  const hist = await Metrics.getHistory({ run_id, metric_key: "loss" });
  check(hist.metrics.length === 21, `get-history has every loss point: ${hist.metrics.length}`);
  check(hist.metrics[20].step === 5 && hist.metrics[20].value === 0.9, "the step that went back is last");
  const acc = await Metrics.getHistory({ run_id, metric_key: "acc" });
  check(acc.metrics.length === 500, "get-history has the batch");
  const found = await Runs.search({ experiment_ids: [experiment_id], filter: "params.lr = '0.001' and metrics.acc > 0.5" });
  check(found.runs.length === 1 && found.runs[0].info.run_id === run_id, "runs/search finds it");
  // An MLflow error reaches the client as MLflow's error code.
  let err = "";
  try { await Runs.get({ run_id: "no-such-run" }); } catch (e) { err = String(e); }
  check(err.includes("RESOURCE_DOES_NOT_EXIST"), `unknown run: ${err}`);
  return { npm_run: run_id, npm_experiment: experiment_id };
}

// ---- 2. the Python client's requests, as rest_store.py sends them
async function call(method, endpoint, body, token = TOKEN) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let url = `${URI}/api/2.0/mlflow/${endpoint}`;
  const init = { method, headers };
  if (method === "GET") {
    url += "?" + new URLSearchParams(body).toString();
  } else {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

async function pythonClient() {
  const ok = (r, what) => { check(r.status === 200, `${what}: ${r.status} ${r.text.slice(0, 300)}`); return r.json; };
  // mlflow.set_experiment("py-exp")
  let r = await call("GET", "experiments/get-by-name", { experiment_name: "py-exp" });
  check(r.status === 404 && r.json.error_code === "RESOURCE_DOES_NOT_EXIST", "get-by-name of a new name: 404");
  const experiment_id = ok(await call("POST", "experiments/create", { name: "py-exp" }), "create").experiment_id;
  ok(await call("GET", "experiments/get", { experiment_id }), "experiments/get");
  // mlflow.start_run(run_name="py-run")
  const t0 = Date.now();
  const run = ok(await call("POST", "runs/create", { experiment_id, user_id: "ada", start_time: t0,
    tags: [{ key: "mlflow.user", value: "ada" }, { key: "mlflow.source.name", value: "train.py" },
      { key: "mlflow.source.type", value: "LOCAL" }, { key: "mlflow.runName", value: "py-run" }],
    run_name: "py-run" }), "runs/create").run;
  const run_id = run.info.run_id;
  check(run.info.run_name === "py-run", "run_name");
  // mlflow.log_params / set_tags: log-batch with only params / only tags.
  ok(await call("POST", "runs/log-batch", { run_id, metrics: [], params: [{ key: "lr", value: "0.01" }, { key: "epochs", value: "5" }], tags: [] }), "log_params");
  ok(await call("POST", "runs/log-batch", { run_id, metrics: [], params: [], tags: [{ key: "model", value: "mlp" }] }), "set_tags");
  // mlflow.log_metric(key, value, step)
  for (let step = 0; step < 10; step++) {
    ok(await call("POST", "runs/log-metric", { run_id, key: "loss", value: 2 / (step + 1), timestamp: t0 + step, step, run_uuid: run_id }), "log_metric");
  }
  // MlflowClient.log_batch with MLflow's maximum of 1000 metrics, and one over it.
  const metrics = [];
  for (let i = 0; i < 1000; i++) metrics.push({ key: `val/task_${i % 4}`, value: i * 0.001, timestamp: t0 + i, step: Math.floor(i / 4) });
  ok(await call("POST", "runs/log-batch", { run_id, metrics, params: [], tags: [] }), "log_batch 1000");
  metrics.push({ key: "x", value: 1, timestamp: t0, step: 0 });
  r = await call("POST", "runs/log-batch", { run_id, metrics, params: [], tags: [] });
  check(r.status === 400 && r.json.error_code === "INVALID_PARAMETER_VALUE", "1001 metrics refused");
  // Changing a param is refused, as MLflow does.
  r = await call("POST", "runs/log-parameter", { run_id, key: "lr", value: "0.5", run_uuid: run_id });
  check(r.status === 400 && r.json.error_code === "INVALID_PARAMETER_VALUE", "param change refused");
  // mlflow.end_run()
  ok(await call("POST", "runs/update", { run_id, status: "FINISHED", end_time: t0 + 9000, run_uuid: run_id }), "end_run");
  // MlflowClient.get_metric_history, paged as the client pages it.
  let points = [], token = undefined;
  do {
    const q = { run_id, run_uuid: run_id, metric_key: "val/task_1", max_results: 100 };
    if (token) q.page_token = token;
    const page = ok(await call("GET", "metrics/get-history", q), "get-history");
    points = points.concat(page.metrics || []);
    token = page.next_page_token;
  } while (token);
  check(points.length === 250, `get-history pages: ${points.length}`);
  check(points[249].step === 249 && Math.abs(points[249].value - 0.997) < 1e-9, "last point of val/task_1");
  // MlflowClient.search_runs
  const found = ok(await call("POST", "runs/search", { experiment_ids: [experiment_id], filter: "metrics.loss < 1 and tags.model = 'mlp'",
    run_view_type: "ACTIVE_ONLY", max_results: 1000, order_by: ["metrics.loss ASC"] }), "search_runs").runs;
  check(found.length === 1 && found[0].info.run_id === run_id, "search_runs finds the run");
  const latest = Object.fromEntries(found[0].data.metrics.map((m) => [m.key, m.value]));
  check(latest.loss === 0.2, `latest loss: ${latest.loss}`);
  r = await call("POST", "runs/search", { experiment_ids: [experiment_id], filter: "metrics.loss < 1 OR params.lr = '1'" });
  check(r.status === 400 && r.json.error_code === "INVALID_PARAMETER_VALUE", "OR refused");
  // The ajax-api prefix the MLflow UI uses.
  const ajax = await fetch(`${URI}/ajax-api/2.0/mlflow/runs/get?run_id=${run_id}`, { headers: { Authorization: `Bearer ${READ_TOKEN}` } });
  check(ajax.status === 200, "ajax-api prefix");
  return { py_run: run_id, py_experiment: experiment_id };
}

// ---- 3. scopes
async function scopes(runId) {
  let r = await call("POST", "runs/search", { experiment_ids: ["0"] }, READ_TOKEN);
  check(r.status === 200, `a read token searches: ${r.status}`);
  r = await call("POST", "runs/log-metric", { run_id: runId, key: "x", value: 1 }, READ_TOKEN);
  check(r.status === 403, `a read token cannot log: ${r.status}`);
  r = await call("GET", "runs/get", { run_id: runId }, "");
  check(r.status === 401, `no token: ${r.status}`);
}

const a = await npmClient();
const b = await pythonClient();
await scopes(b.py_run);
print(JSON.stringify({ ...a, ...b }));
