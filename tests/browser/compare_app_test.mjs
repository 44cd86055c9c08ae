// The standalone comparison app in a real browser: `inloop evaldiff --html` and `inloop compare
// --html` pages opened from file:// in headless chromium, checked against the JSON the same
// commands print (tables, sorting, filters, the side-by-side diff, the charts' drawn points).
import fs from "node:fs";
import path from "node:path";
import { ARTIFACTS, check, done, eq, inloop, launch, screenshot, tempDir } from "./browser.mjs";

const work = tempDir("inloop-browser-");
const store = path.join(work, "store");

// ---- data: two model versions' per-example results, and two groups of seeded runs ----
function evalFiles() {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const words = ["the", "answer", "is", "forty", "two", "because", "we", "add", "both", "sides", "then", "divide"];
  const sentence = n => Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(" ");
  const old = [], neu = [];
  for (let i = 0; i < 240; i++) {
    const lang = i % 3 === 0 ? "de" : "en";
    const input = `question ${i}: ${sentence(6)}?`;
    const o = sentence(8 + (i % 5));
    const pOld = lang === "de" ? 0.55 : 0.7, pNew = lang === "de" ? 0.75 : 0.72;
    const cOld = rand() < pOld, cNew = rand() < pNew;
    const n = cOld === cNew ? o : o.replace(/the|is/g, m => (m === "the" ? "a" : "was")) + " " + sentence(2);
    old.push({ id: `ex-${i}`, input, output: o, correct: cOld, slice: { lang }, cluster: `doc-${Math.floor(i / 4)}` });
    neu.push({ id: `ex-${i}`, input, output: n, correct: cNew, slice: { lang }, cluster: `doc-${Math.floor(i / 4)}` });
  }
  old.push({ id: "only-old", output: "x", correct: true });
  neu.push({ id: "only-new", output: "y", correct: false });
  const write = (name, rows) => { const f = path.join(work, name); fs.writeFileSync(f, rows.map(r => JSON.stringify(r)).join("\n") + "\n"); return f; };
  return [write("old.jsonl", old), write("new.jsonl", neu)];
}

function seedRuns() {
  for (const [group, rate] of [["a", 1.0], ["b", 1.25]]) {
    for (let s = 1; s <= 3; s++) {
      const rows = ["step,loss,lr"];
      for (let step = 0; step <= 600; step += 5) {
        const noise = Math.sin(step * 0.37 * s + s) * 0.03;
        rows.push(`${step},${(2.5 * Math.exp(-rate * step / 250) + 1.1 + noise + 0.01 * s).toFixed(5)},0.001`);
      }
      const f = path.join(work, `${group}-seed-${s}.csv`);
      fs.writeFileSync(f, rows.join("\n") + "\n");
      inloop(["import", "--store", store, "--name", `${group}-seed-${s}`, f]);
    }
  }
}

const browser = await launch();
try {
  // ---- evaldiff ----
  const [oldFile, newFile] = evalFiles();
  const html = path.join(work, "evaldiff.html");
  const rep = JSON.parse(inloop(["evaldiff", oldFile, newFile, "--json", "--html", html]));
  check(fs.existsSync(html), "evaldiff --html wrote the page");
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto("file://" + html);
  await page.waitForSelector("body[data-ready='1']");
  eq(errors, [], "the page runs without script errors");
  const matched = await page.locator(".card", { hasText: "examples matched" }).locator(".v").textContent();
  eq(Number(matched), rep.n, "matched count on the page");
  const flipped = rep.regressed.length + rep.improved.length;
  const rows = page.locator("table.examples tbody tr.ex");
  eq(await rows.count(), flipped, "one row per flipped example");
  eq(await page.locator("#count").textContent(), `showing ${flipped} of ${flipped}`, "count label");
  const impacts = (await page.locator("table.examples tbody tr.ex td:nth-child(6)").allTextContents()).map(t => Math.abs(Number(t)));
  check(impacts.every((v, i) => i === 0 || v <= impacts[i - 1]), "sorted by impact, largest first");
  await page.selectOption("#kind", "regressed");
  const regIds = await page.locator("table.examples tbody tr.ex").evaluateAll(rs => rs.map(r => r.dataset.id));
  eq(regIds.slice().sort(), rep.regressed.map(String).slice().sort(), "regressed filter shows exactly the regressed ids");
  await page.click("table.examples th[data-key='id']");
  const byId = await page.locator("table.examples tbody tr.ex").evaluateAll(rs => rs.map(r => r.dataset.id));
  eq(byId, byId.slice().sort(), "clicking the id header sorts by id");
  await page.selectOption("#kind", "all");
  await page.selectOption("#slice", "lang=de");
  const sliceTexts = await page.locator("table.examples tbody tr.ex td:nth-child(3)").allTextContents();
  check(sliceTexts.length > 0 && sliceTexts.every(t => t.includes("lang=de")), "slice filter keeps lang=de rows only");
  await page.selectOption("#slice", "");
  const first = rows.first();
  const firstId = await first.getAttribute("data-id");
  await first.click();
  const detail = page.locator("tr.detail");
  eq(await detail.count(), 1, "clicking a row opens its side-by-side outputs");
  const marks = await detail.locator("del, ins").count();
  check(marks > 0, "the differences between the outputs are highlighted");
  const ex = (rep.examples || []).find(e => String(e.id) === firstId);
  if (ex) {
    const oldText = await detail.locator(".old pre").textContent();
    eq(oldText, String(ex.old_output ?? ex.old?.output ?? ""), "old output shown whole");
  }
  await page.fill("#search", firstId);
  eq(await rows.count(), 1, "search by id finds the one example");
  await page.fill("#search", "");
  const sliceRows = await page.locator("table.slices tbody tr").count();
  const expectedSlices = Object.values(rep.slices || {}).reduce((n, v) => n + Object.keys(v).length, 0);
  eq(sliceRows, expectedSlices, "one slice row per slice value");
  check((await page.locator("text=Only in old (1)").count()) === 1, "unmatched ids are shown");
  await screenshot(page, "evaldiff-light.png");
  await page.click("#theme");
  await screenshot(page, "evaldiff-dark.png");
  await page.close();

  // ---- compare ----
  seedRuns();
  const chtml = path.join(work, "compare.html");
  const crep = JSON.parse(inloop(["compare", "--store", store, "--a", "a-seed-*", "--b", "b-seed-*", "--json", "--html", chtml]));
  eq(crep.a.runs.length, 3, "group A has the three a-seeds");
  const cpage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const cerrors = [];
  cpage.on("pageerror", e => cerrors.push(String(e)));
  await cpage.goto("file://" + chtml);
  await cpage.waitForSelector("body[data-ready='1']");
  eq(cerrors, [], "the compare page runs without script errors");
  const lines = cpage.locator("[data-chart='curves'] path.line");
  eq(await lines.count(), crep.curves.length + 2, "a line per run plus the two group means");
  const drawn = await lines.evaluateAll(ps => ps.map(p => Number(p.dataset.points)));
  const want = [...crep.curves.map(c => c.y.length), crep.grid.x.length, crep.grid.x.length];
  eq(drawn, want, "every point of the JSON is drawn");
  eq(await cpage.locator("[data-chart='curves'] path.band").count(), 2, "a 95% band per group");
  eq(await cpage.locator("[data-chart='diff'] path.band").count(), 1, "a band around the difference");
  const finalCard = await cpage.locator(".card", { hasText: "final B − A" }).locator(".v").textContent();
  const d = crep.final.diff;
  eq(Number(finalCard), Number(Number(d).toPrecision(4)), "final difference card matches the JSON");
  const box = await cpage.locator("[data-chart='curves'] svg").boundingBox();
  await cpage.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  check(await cpage.locator("[data-chart='curves'] .tip").isVisible(), "hovering shows the values under the cursor");
  eq(await cpage.locator("table.runs tbody tr").count(), 6, "the runs table lists all six runs");
  await screenshot(cpage, "compare.png");
  await cpage.close();
} finally {
  await browser.close();
  if (!process.env.INLOOP_KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
}
console.log(`artefacts in ${ARTIFACTS}`);
done();
