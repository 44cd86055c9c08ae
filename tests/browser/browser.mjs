// Shared set-up of the browser tests: Playwright (playwright-core from ui/node_modules) driving
// Debian's chromium headless, a temp dir, the inloop binary, `inloop serve` on a free port (ended
// when the test exits), artefacts (screenshots) kept under $INLOOP_ARTIFACTS (default
// build/test-artifacts) for people to look at after a run.
import { createRequire } from "node:module";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const SRC = process.env.INLOOP_SRC || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = process.env.INLOOP_BIN || path.join(SRC, "build/inloop");
export const ARTIFACTS = process.env.INLOOP_ARTIFACTS || path.join(SRC, "build/test-artifacts");
const require = createRequire(path.join(SRC, "ui/package.json"));
const { chromium } = require("playwright-core");

export function tempDir(prefix) { return fs.mkdtempSync(path.join(os.tmpdir(), prefix)); }

// Runs inloop with args; returns stdout. Throws with stderr on a non-zero exit.
export function inloop(args, opts = {}) {
  return execFileSync(BIN, args, { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...(opts.env || {}) },
    cwd: opts.cwd, maxBuffer: 256 << 20 });
}

export async function launch() {
  // The flags keep chromium off the network (this machine has none) and out of the way.
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage"],
  });
}

export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

let failures = 0;
export function check(cond, what) {
  if (cond) console.log(`ok: ${what}`);
  else { failures++; console.error(`FAIL: ${what}`); }
}
export function eq(got, want, what) { check(JSON.stringify(got) === JSON.stringify(want), `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`); }
export function done() {
  if (failures) { console.error(`${failures} check(s) failed`); process.exit(1); }
  console.log("all checks passed");
}

// Background processes (servers, runs) a test started: ended when it exits.
export const servers = [];
process.on("exit", () => { for (const s of servers) try { s.kill("SIGTERM"); } catch { /* gone */ } });

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}
const sleep = ms => new Promise(r => setTimeout(r, ms));
// Polls fn every 100 ms until it returns something truthy (returned) or ms pass (throws).
export async function waitFor(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// `inloop serve` over storeDir on a free loopback port, once /api/v1/health answers.
export async function serve(storeDir, token) {
  const port = await freePort();
  const proc = spawn(BIN, ["serve", "--store", storeDir, "--bind", "127.0.0.1", "--port", String(port), ...(token ? ["--token", token] : [])],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  servers.push(proc);
  let log = "";
  proc.stdout.on("data", d => (log += d));
  proc.stderr.on("data", d => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const auth = token ? { headers: { Authorization: `Bearer ${token}` } } : {};
  await waitFor(`inloop serve on ${port}`, async () => proc.exitCode === null && (await fetch(`${base}/api/v1/health`, auth)).ok, 20000)
    .catch(e => { throw new Error(`${e.message}: ${log}`); });
  return { base, proc, log: () => log };
}

// api(base)(path): GET base + path as JSON; throws with the body on a non-2xx answer.
export const api = base => async p => {
  const r = await fetch(base + p);
  if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
  return r.json();
};
