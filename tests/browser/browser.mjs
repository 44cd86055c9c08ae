// Shared set-up of the browser tests: Playwright (playwright-core from ui/node_modules) driving
// Debian's chromium headless, a temp dir, the inloop binary, artefacts (screenshots) kept under
// $INLOOP_ARTIFACTS (default build/test-artifacts) for people to look at after a run.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
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
