// The dashboard's only door to the server: typed calls to /api/v1 (docs/http_api.md) with the
// page's token attached. Owns number decoding ("NaN"/"Infinity" strings -> numbers) and a log of
// series requests for the test hook. Never builds HTML and never keeps application state.

export interface Run {
  id: string;
  name: string;
  status: string;
  created_at: number;
  ended_at: number | null;
  duration_s: number | null;
  attempts: number;
  tags: string[];
  params: Record<string, string>;
  last: Record<string, number>;
}

export interface TimelineEvent {
  id: number;
  time: number;
  kind: string;
  step: number | null;
  attempt?: number;
  message: string;
  severity?: string;
  data?: Record<string, unknown>;
}

export interface Action {
  id: number;
  run_id: string;
  kind: string;
  state: string;
  reason: string;
  step: number | null;
  created_at: number;
  decided_by: string;
  decided_at: number;
  note: string;
  trigger?: string;
}

export interface RunDetail {
  run: Run;
  events: TimelineEvent[];
  hidden_events: Record<string, number>;  // kinds the server left out of `events` (data_batches)
  actions: Action[];
  series: { key: string; points: number; first_step?: number; last_step?: number }[];
}

export interface SeriesOfRun {
  run: string;
  name: string;
  total_points: number;
  downsampled: boolean;
  x: number[];
  y: number[];
  // Points of earlier segments that a rollback or resume ran again (hidden from x/y): drawn faded.
  abandoned: { segment: number; x: number[]; y: number[] }[];
}

// GET /api/v1/runs/{id}/repair: what the doctor did to a run (docs/http_api.md).
export interface Goodput {
  ettr: number; wall_seconds: number; productive_seconds: number; steps_survived: number;
  lost_steps: number; lost_seconds: number; mean_time_to_detect: number | null; mttr: number | null;
  faults: { trigger: string; step: number; lost_steps: number; lost_seconds: number }[];
}
export interface Episode {
  kind: string; severity: string; key: string; count: number;
  step_lo: number | null; step_hi: number | null; time: number; message: string;
}
export interface RepairView {
  run: string; name: string; metric: string; started_at: number;
  attempts: { number: number; reason: string; started_at: number; ended_at: number | null; first_step: number | null; last_step: number | null }[];
  abandoned: { attempt: number; redone_by: number; step_lo: number; step_hi: number }[];
  skipped: { action_id: number; lo: number; hi: number }[];
  checkpoints: { step: number; time: number; attempt: number }[];
  episodes: Episode[];
  summary: string;
  goodput: Goodput | null;
}

export type XMode = "step" | "time" | "relative";

const token = new URLSearchParams(location.search).get("token") || "";

export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); }
}

// Every series request the page made, newest last (the browser test checks the re-query on zoom).
export const seriesRequests: { url: string; key: string; width: number; from: number | null; to: number | null; at: number }[] = [];

export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  if (v === null || v === undefined) return NaN;
  return Number(v);
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (init?.body) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { ...init, headers });
  const text = await res.text();
  let body: any = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
  if (!res.ok) throw new ApiError(res.status, (body && body.error) || `${res.status} ${res.statusText} for ${path}`);
  if (body === null) throw new ApiError(res.status, `${path} did not answer JSON`);
  return body as T;
}

function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

function decodeRun(r: any): Run {
  const last: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.last || {})) last[k] = num(v);
  return {
    id: String(r.id), name: String(r.name ?? ""), status: String(r.status ?? ""),
    created_at: num(r.created_at), ended_at: r.ended_at == null ? null : num(r.ended_at),
    duration_s: r.duration_s == null ? null : num(r.duration_s), attempts: Number(r.attempts ?? 0),
    tags: Array.isArray(r.tags) ? r.tags.map(String) : [],
    params: Object.fromEntries(Object.entries(r.params || {}).map(([k, v]) => [k, String(v)])), last,
  };
}

function decodeEvent(e: any): TimelineEvent {
  const step = e.step ?? e.step_lo ?? null;
  return { id: Number(e.id), time: num(e.time), kind: String(e.kind), step: step == null ? null : Number(step),
    attempt: e.attempt, message: String(e.message ?? ""), severity: e.severity, data: e.data };
}

function decodeAction(a: any): Action {
  return { id: Number(a.id), run_id: String(a.run_id ?? ""), kind: String(a.kind ?? a.action ?? ""),
    state: String(a.state ?? ""), reason: String(a.reason ?? ""), step: a.step == null ? null : Number(a.step),
    created_at: num(a.created_at), decided_by: String(a.decided_by ?? ""), decided_at: num(a.decided_at),
    note: String(a.note ?? ""), trigger: a.trigger };
}

// All runs (newest first), fetched in pages; `last` names the series whose last values come along.
// The first page tells the total; the rest are asked for at once.
export async function listRuns(last: string[], pageSize = 2000, cap = 20000): Promise<{ total: number; runs: Run[] }> {
  const page = (offset: number) => call<any>(`api/v1/runs${query({ sort: "created_at", order: "desc", limit: pageSize, offset, last: last.join(",") })}`);
  const first = await page(0);
  const total = Number(first.total ?? 0);
  const rest: Promise<any>[] = [];
  for (let offset = pageSize; offset < Math.min(total, cap); offset += pageSize) rest.push(page(offset));
  const runs: Run[] = (first.runs || []).map(decodeRun);
  for (const body of await Promise.all(rest)) runs.push(...(body.runs || []).map(decodeRun));
  return { total, runs };
}

export async function paramKeys(): Promise<string[]> {
  return ((await call<any>("api/v1/params")).keys || []).map(String);
}

export async function seriesKeys(runIds: string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  return ((await call<any>(`api/v1/keys${query({ runs: runIds.join(",") })}`)).keys || []).map(String);
}

export async function runDetail(id: string): Promise<RunDetail> {
  const b = await call<any>(`api/v1/runs/${encodeURIComponent(id)}`);
  return { run: decodeRun({ ...(b.run || {}), params: b.params ?? b.run?.params, tags: b.tags ?? b.run?.tags }),
    events: (b.events || []).map(decodeEvent), hidden_events: b.hidden_events || {},
    actions: (b.actions || []).map(decodeAction), series: b.series || [] };
}

export async function alignedSeries(runIds: string[], key: string, x: XMode, width: number,
  from: number | null, to: number | null): Promise<SeriesOfRun[]> {
  const url = `api/v1/series${query({ runs: runIds.join(","), key, x, width, from, to, abandoned: 1 })}`;
  seriesRequests.push({ url, key, width, from, to, at: performance.now() });
  const body = await call<any>(url);
  const req = seriesRequests[seriesRequests.length - 1];
  if (req && req.url === url) (req as any).parsedAt = performance.now();
  return (body.series || []).map((s: any) => {
    const pts: any[] = s.points || [];
    const xs = new Array<number>(pts.length), ys = new Array<number>(pts.length);
    for (let i = 0; i < pts.length; i++) { xs[i] = num(pts[i][0]); ys[i] = num(pts[i][1]); }
    const abandoned = (s.abandoned || []).map((a: any) => {
      const ap: any[] = a.points || [];
      return { segment: Number(a.segment), x: ap.map(p => num(p[0])), y: ap.map(p => num(p[1])) };
    });
    return { run: String(s.run), name: String(s.name ?? s.run), total_points: Number(s.total_points ?? pts.length),
      downsampled: !!s.downsampled, x: xs, y: ys, abandoned };
  });
}

export async function runRepair(id: string): Promise<RepairView> {
  const b = await call<any>(`api/v1/runs/${encodeURIComponent(id)}/repair`);
  const g = b.goodput;
  return { ...b, started_at: num(b.started_at), summary: String(b.summary ?? ""),
    episodes: (b.episodes || []).map((e: any) => ({ ...e, time: num(e.time) })),
    checkpoints: (b.checkpoints || []).map((c: any) => ({ ...c, time: num(c.time) })),
    abandoned: b.abandoned || [], skipped: b.skipped || [], attempts: b.attempts || [],
    goodput: g ? { ...g, ettr: num(g.ettr), wall_seconds: num(g.wall_seconds), productive_seconds: num(g.productive_seconds),
      lost_seconds: num(g.lost_seconds), faults: g.faults || [] } : null };
}

export async function pendingActions(): Promise<Action[]> {
  return ((await call<any>("api/v1/actions?state=pending")).actions || []).map(decodeAction);
}

export async function decide(actionId: number, verdict: "approve" | "deny", note: string): Promise<Action> {
  const b = await call<any>(`api/v1/actions/${actionId}/${verdict}`, { method: "POST", body: JSON.stringify({ note }) });
  return decodeAction(b.action ?? b);
}

export function streamUrl(runIds: string[]): string {
  const q = new URLSearchParams();
  for (const id of runIds) q.append("run", id);
  if (token) q.set("token", token);
  const s = q.toString();
  return `api/v1/stream${s ? `?${s}` : ""}`;
}

// ---------------------------------------------------------------- research loops (issue 8)
export interface LoopSummary {
  name: string; metric_key: string; goal: string; branch: string; rounds: number;
  kept: number; discarded: number; failed: number; rejected: number; interrupted: number;
  tampered?: number; rechecked?: number; demoted?: number;  // issue 21 (older servers: absent)
  baseline: number; champion: { round: number; metric: number; commit: string; run_id: string } | null;
  throughput: LoopThroughput | null;
}
// The loop's pace and cost (loop/throughput.h): null per-kept values before the first keep.
export interface LoopThroughput {
  experiments: number; kept: number; hours: number; experiments_per_hour: number; kept_per_hour: number;
  cpu_hours: number; gpu_hours: number; cpu_hours_per_kept: number | null; gpu_hours_per_kept: number | null;
}
export interface LoopRound {
  round: number; verdict: string; proposer: string; reason: string; run_id: string; run_ids: string[];
  metric: number; gain: number; champion_metric: number; noise_sd: number; threshold: number;
  commit: string; parent: string; changed_files: string[]; diff_lines: number; time: number;
  tamper?: string[];  // a tampered round's evidence
}
export async function listLoops(): Promise<LoopSummary[]> {
  const b = await call<{ loops: any[] }>("/api/v1/loops");
  return b.loops.map(l => ({ ...l, baseline: num(l.baseline), throughput: l.throughput ?? null,
    champion: l.champion ? { ...l.champion, metric: num(l.champion.metric) } : null }));
}
export async function loopRounds(name: string): Promise<{ rounds: LoopRound[]; lineage: number[]; metric_key: string; goal: string }> {
  const b = await call<any>(`/api/v1/loops/${encodeURIComponent(name)}`);
  const rounds = (b.rounds as any[]).map(r => ({ ...r, metric: num(r.metric), gain: num(r.gain),
    champion_metric: num(r.champion_metric), noise_sd: num(r.noise_sd), threshold: num(r.threshold),
    run_ids: r.run_ids || [], changed_files: r.changed_files || [] }));
  return { rounds, lineage: b.lineage || [], metric_key: b.metric_key, goal: b.goal };
}

// ---------------------------------------------------------------- Slurm lemon nodes (issue 17)
export interface NodeFaults { node: string; faults: number; runs: number; last_time: number; classes: Record<string, number> }
export async function listNodes(): Promise<NodeFaults[]> {
  const b = await call<{ nodes: NodeFaults[] }>("/api/v1/nodes");
  return b.nodes;
}
