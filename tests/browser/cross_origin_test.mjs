// The approval gate cannot be forged from a web page (docs/security.md). `inloop serve` holds a
// pending action and a live HTTP-ingest run; the dashboard is open in the same browser (so its
// HttpOnly cookie is there to be abused). Pages served by another local HTTP server -- one on
// 127.0.0.1 (same-site: the SameSite=Strict cookie IS sent) and one on localhost (cross-site) --
// then try to approve, deny, create a run and ingest points: fetch no-cors as text/plain (with and
// without a Content-Type), fetch with JSON (needs a CORS preflight), and HTML form posts
// (urlencoded and the text/plain JSON trick), each also with the server's token leaked into the
// URL. A DNS-rebinding style request (a foreign Host, with the token) and one to a --no-token
// server follow. Every attempt must reach the server and be refused, and through the API the
// action must still be pending, no run created, no point ingested.
// With the header rules switched off (Admit() answering {} at once) this test fails: tried by
// hand when it was written -- the forged approval went through (decided_by http:server-token,
// from the cookie or the leaked token), 15 forged runs were created and a "forged" series was
// ingested, and every rebinding request was answered 200/409 instead of 403.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { api, check, done, eq, inloop, launch, serve, tempDir, waitFor } from "./browser.mjs";

const PY = process.env.INLOOP_PYTHON || "/usr/bin/python3";
const work = tempDir("inloop-xorigin-");
const store = path.join(work, "store");

// ---- a finished run with a pending action, as a supervisor in ask mode leaves it (approve_test)
inloop(["run", "--store", store, "--name", "asked", "--policy", "observe", "--", PY, "-c", "print('step=1 loss=2')"], { cwd: work });
const runId = JSON.parse(inloop(["runs", "--store", store, "--json"]))[0].id;
execFileSync(PY, ["-c", `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO actions(run_id, created_at, action, trigger, step, reason, state, decided_by, decided_at, note, data) "
           "VALUES(?,?,'rollback_skip','loss_spike',40,'loss spike at step 40','pending','',0,'','{}')", (sys.argv[2], time.time()))
db.commit()
`, path.join(store, "inloop.db"), runId]);

const srv = await serve(store);
const get = api(srv);
const pending = (await get("/api/v1/actions?state=pending")).actions;
eq(pending.length, 1, "one pending action to forge a decision on");
const actionId = pending[0].id;
// A live run a training process reports to over HTTP (so forged points would be accepted).
const created = await fetch(`${srv.base}/api/v1/runs`, { method: "POST", headers: { ...srv.headers, "Content-Type": "application/json" },
  body: JSON.stringify({ name: "live-ingest" }) });
eq(created.status, 200, "an ingest run is created with the token");
const liveId = (await created.json()).id;
const runsBefore = (await get("/api/v1/runs?limit=1000")).total;

async function refusedCount(base, headers) {
  const text = await (await fetch(`${base}/metrics`, { headers })).text();
  let n = 0;
  for (const line of text.split("\n")) {
    const m = /^inloop_http_requests_total\{route="refused",code="(403|415)"\} (\d+)/.exec(line);
    if (m) n += Number(m[2]);
  }
  return n;
}

// ---- the attacker's server: one page that fires every attempt at `target`
const attackPage = `<!doctype html><meta charset="utf-8"><title>cat pictures</title><body><script>
const q = new URLSearchParams(location.search);
const T = q.get("target"), A = q.get("action"), R = q.get("run"), leak = q.get("leak");
const targets = [
  ["/api/v1/actions/" + A + "/approve", '{"note":"forged"}'],
  ["/api/v1/actions/" + A + "/deny", '{"note":"forged"}'],
  ["/api/v1/runs", '{"name":"forged"}'],
  ["/api/v1/runs/" + R + "/points", '{"points":[{"key":"forged","step":1,"value":1}]}'],
];
const results = [];
const jobs = [];
let frames = 0;
for (const [p, body] of targets) {
  for (const suffix of ["", "?token=" + leak]) {
    const url = T + p + suffix;
    const opts = { method: "POST", mode: "no-cors", credentials: "include", body };
    jobs.push(fetch(url, { ...opts, headers: { "Content-Type": "text/plain" } }).then(r => results.push(["no-cors text/plain", url, r.type]), e => results.push(["no-cors text/plain", url, "error " + e])));
    jobs.push(fetch(url, opts).then(r => results.push(["no-cors default type", url, r.type]), e => results.push(["no-cors default type", url, "error " + e])));
    jobs.push(fetch(url, { method: "POST", credentials: "include", headers: { "Content-Type": "application/json" }, body })
      .then(r => results.push(["cors json", url, "status " + r.status]), e => results.push(["cors json", url, "blocked"])));
    for (const enctype of ["application/x-www-form-urlencoded", "text/plain"]) {
      const name = "f" + frames++;
      const frame = document.createElement("iframe");
      frame.name = name;
      document.body.appendChild(frame);
      const form = document.createElement("form");
      form.method = "POST"; form.action = url; form.enctype = enctype; form.target = name;
      const input = document.createElement("input");
      input.name = body.slice(0, -1) + ',"x":"'; input.value = '"}';  // text/plain: a JSON body
      form.appendChild(input);
      document.body.appendChild(form);
      form.submit();
    }
  }
}
Promise.allSettled(jobs).then(() => { window.__results = results; window.__forms = frames; window.__done = true; });
</script>`;
const attacker = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  res.end(attackPage);
});
await new Promise(r => attacker.listen(0, "127.0.0.1", r));
const aport = attacker.address().port;

const browser = await launch();
try {
  const context = await browser.newContext();
  // The user has the dashboard open: its cookie is in the browser.
  const dash = await context.newPage();
  await dash.goto(srv.url("/"));
  await dash.waitForFunction(() => window.__inloop && window.__inloop.isReady, null, { timeout: 30000 });
  const cookie = (await context.cookies(srv.base)).find(c => c.name === `inloop_token_${new URL(srv.base).port}`);
  check(cookie && cookie.httpOnly && cookie.sameSite === "Strict", "the dashboard's HttpOnly SameSite=Strict cookie is in the browser");

  // Per page: 4 targets x 2 (with/without the leaked token) x (2 no-cors fetches + 2 forms) reach
  // the server; the JSON fetches stop at their preflight.
  const perPage = 4 * 2 * 4;
  for (const origin of [`http://127.0.0.1:${aport}`, `http://localhost:${aport}`]) {
    const before = await refusedCount(srv.base, srv.headers);
    const page = await context.newPage();
    const qs = new URLSearchParams({ target: srv.base, action: String(actionId), run: liveId, leak: srv.token });
    await page.goto(`${origin}/attack.html?${qs}`);
    await page.waitForFunction(() => window.__done === true, null, { timeout: 60000 });
    const results = await page.evaluate(() => window.__results);
    eq(results.length, 4 * 2 * 3, `${origin}: every fetch settled`);
    check(results.filter(r => r[0] === "cors json").every(r => r[2] === "blocked"), `${origin}: JSON fetches from another origin stop at the CORS preflight`);
    // Every no-cors fetch and form post reached the server and was refused by the header rules.
    const reached = await waitFor(`${origin}: ${perPage} refusals`, async () => {
      const n = (await refusedCount(srv.base, srv.headers)) - before;
      return n >= perPage ? n : null;
    }, 60000).catch(e => { check(false, `${origin}: ${e.message}`); return 0; });
    check(reached >= perPage, `${origin}: ${reached} forged requests reached the server and were refused (403/415)`);
    await page.close();
  }

  // ---- DNS rebinding: a foreign Host, even with the token, from outside any browser
  function rawPost(base, hostHeader, p, body, headers = {}) {
    return new Promise((resolve, reject) => {
      const u = new URL(base);
      const req = http.request({ host: u.hostname, port: u.port, path: p, method: "POST",
        headers: { Host: hostHeader, "Content-Type": "application/json", ...headers } }, res => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("error", reject);
      req.setTimeout(30000, () => req.destroy(new Error("timeout")));
      req.end(body);
    });
  }
  const sport = new URL(srv.base).port;
  for (const host of [`evil.example:${sport}`, `127.0.0.1.evil.example:${sport}`, `localhost:${Number(sport) + 1}`]) {
    eq(await rawPost(srv.base, host, `/api/v1/actions/${actionId}/approve`, "{}", srv.headers), 403, `rebinding Host ${host}: approve refused even with the token`);
    eq(await rawPost(srv.base, host, "/api/v1/runs", '{"name":"forged"}', srv.headers), 403, `rebinding Host ${host}: run creation refused`);
  }
  // A --no-token server on the same store: the Host rule is all that stands in the way.
  const open = await serve(store, undefined, ["--no-token"]);
  eq(open.token, "", "the --no-token server prints no token");
  const oport = new URL(open.base).port;
  eq(await rawPost(open.base, `evil.example:${oport}`, `/api/v1/actions/${actionId}/deny`, "{}"), 403, "--no-token: a rebinding Host cannot deny");
  eq(await rawPost(open.base, `evil.example:${oport}`, `/api/v1/runs/${liveId}/points`, '{"points":[{"key":"forged","step":1,"value":1}]}'), 403, "--no-token: a rebinding Host cannot ingest");
  // ... and a page of another origin cannot use it either (no cookie needed there).
  const page = await context.newPage();
  const qs = new URLSearchParams({ target: open.base, action: String(actionId), run: liveId, leak: "none" });
  const openBefore = await refusedCount(open.base, {});
  await page.goto(`http://127.0.0.1:${aport}/attack.html?${qs}`);
  await page.waitForFunction(() => window.__done === true, null, { timeout: 60000 });
  const openReached = await waitFor("--no-token: refusals", async () => {
    const n = (await refusedCount(open.base, {})) - openBefore;
    return n >= 32 ? n : null;
  }, 60000).catch(() => 0);
  check(openReached >= 32, `--no-token: ${openReached} forged requests from another origin refused`);
  await page.close();
  open.proc.kill("SIGTERM");
} finally {
  await browser.close();
  attacker.closeAllConnections();
  attacker.close();
}

// ---- nothing changed, as the API (with the token) tells it
const after = (await get("/api/v1/actions")).actions.find(a => a.id === actionId);
eq(after.state, "pending", "the action is still pending");
eq(after.decided_by, "", "nobody decided it");
eq((await get("/api/v1/runs?limit=1000")).total, runsBefore, "no run was created");
eq((await get("/api/v1/runs?name=forged")).total, 0, "no run named forged");
eq((await get(`/api/v1/keys?runs=${liveId}`)).keys, [], "no point was ingested into the live run");
// The same requests with the token, from no page: the gate opens for the one who holds it.
const ok = await fetch(`${srv.base}/api/v1/actions/${actionId}/deny`, { method: "POST",
  headers: { ...srv.headers, "Content-Type": "application/json" }, body: '{"note":"the real user"}' });
eq(ok.status, 200, "the real user (token, JSON, no foreign Origin) can still decide");
eq((await ok.json()).decided_by, "http:server-token", "the decision names the server token");
srv.proc.kill("SIGTERM");
fs.rmSync(work, { recursive: true, force: true });
done();
