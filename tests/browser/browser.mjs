// Shared set-up of the browser tests: Playwright (playwright-core from ui/node_modules) driving
// Debian's chromium headless, a temp dir, the inloop binary, `inloop serve` on a port of its own
// choosing with its token (ended when the test exits), artefacts (screenshots) kept under $INLOOP_ARTIFACTS (default
// build/test-artifacts) for people to look at after a run.
import { createRequire } from "node:module";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
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

// `inloop serve` over storeDir on a loopback port it picks itself (--port 0: no race for a free
// port), once /api/v1/health answers. Without `token` the server draws its own, read from the URL
// it prints; `args` are more serve flags (["--no-token"]). srv.url(p) is the page URL with the
// token, srv.headers the API client's, api(srv) a JSON getter with them.
export async function serve(storeDir, token, args = []) {
  const proc = spawn(BIN, ["serve", "--store", storeDir, "--bind", "127.0.0.1", "--port", "0", ...(token ? ["--token", token] : []), ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", INLOOP_TOKEN: "" } });
  servers.push(proc);
  let log = "";
  proc.stdout.on("data", d => (log += d));
  proc.stderr.on("data", d => (log += d));
  const printed = await waitFor("the URL inloop serve prints", () => proc.exitCode === null && /inloop serve: (http:\/\/[^ ]+)/.exec(log), 20000)
    .catch(e => { throw new Error(`${e.message}: ${log}`); });
  const u = new URL(printed[1]);
  const base = u.origin;
  const tok = u.searchParams.get("token") || "";
  if (token) eq(tok, token, "serve prints the token it was given");
  const headers = tok ? { Authorization: `Bearer ${tok}` } : {};
  const url = (p = "/") => base + p + (tok ? `${p.includes("?") ? "&" : "?"}token=${tok}` : "");
  await waitFor(`inloop serve on ${base}`, async () => proc.exitCode === null && (await fetch(`${base}/api/v1/health`, { headers })).ok, 20000)
    .catch(e => { throw new Error(`${e.message}: ${log}`); });
  return { base, token: tok, headers, url, proc, log: () => log };
}

// api(srv)(path): GET srv.base + path as JSON with the server's token; throws with the body on a
// non-2xx answer. api(base) for a server without a token.
export const api = srv => async p => {
  const base = typeof srv === "string" ? srv : srv.base;
  const headers = typeof srv === "string" ? {} : srv.headers;
  const r = await fetch(base + p, { headers });
  if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
  return r.json();
};
