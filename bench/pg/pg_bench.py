#!/usr/bin/env python3
"""PostgreSQL store vs the embedded store (issue 17 part 2), through `inloop serve`.

Starts its own PostgreSQL 15 (initdb in a temp dir, loopback port; as root through runuser),
then for each backend (the embedded store in a temp dir, then a fresh PostgreSQL database):

  ingest   WRITERS concurrent writer processes (one run each, one kept-alive HTTP connection
           each) post batches of BATCH points to one `inloop serve` for SECONDS: points/s
           sustained (points answered 2xx / wall time of the phase), p50/p99 request latency,
           and the points lost: per run, the points answered 2xx minus the points the server
           holds (read back from the API's series summary after the phase).
  listing  RUNS runs (made through the ingest API), then GET /api/v1/runs?limit=100 (sorted by
           creation, the dashboard's first page) and ?sort=name: median of REPS requests.
  wide     one run with COLUMNS series of POINTS points each: GET /api/v1/runs/{id} (every
           series' summary) and GET /api/v1/runs/{id}/series?key=one: median of REPS.
           Reads are timed once both backends hold their data, both servers up, the two
           backends' requests alternating (so load that drifts during the run moves both).
  kill9    WRITERS writer processes ingest into PostgreSQL, the database server's processes get
           SIGKILL mid ingest, it restarts; then every point a client got a 2xx for must be in
           the store (read by a fresh `inloop serve`).
  kill9serve  the same, but `inloop serve` itself gets SIGKILL (opt-in: not in the default set).

Prints one markdown table; the ratio column is PostgreSQL / embedded from this same run.
The issue's target workload: --writers 100 --seconds 600 --phases ingest.
Usage: pg_bench.py INLOOP_BIN [--writers 8] [--batch 1000] [--seconds 30] [--runs 10000]
                              [--columns 1000] [--points 200] [--reps 15]
                              [--phases ingest,listing,wide,kill9[,kill9serve]] [--threads N]
                              [--backends embedded,postgresql]
Exits 1 when an acknowledged point is missing.
"""
import argparse, http.client, json, os, shutil, signal, socket, statistics, subprocess, sys
import tempfile, threading, time, urllib.error, urllib.parse, urllib.request

PGBIN = "/usr/lib/postgresql/15/bin"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Postgres:
    def __init__(self, root):
        self.root, self.port = root, free_port()
        self.user = "postgres" if os.getuid() == 0 else os.environ.get("USER", "postgres")
        if os.getuid() == 0:
            shutil.chown(root, "postgres")
        self.run([f"{PGBIN}/initdb", "-D", f"{root}/data", "-A", "trust", "-U", self.user,
                  "--no-sync"])
        self.start()

    def run(self, cmd):
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self):
        self.run([f"{PGBIN}/pg_ctl", "-D", f"{self.root}/data", "-l", f"{self.root}/log", "-w",
                  "-t", "60", "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=300", "start"])

    def kill9(self):
        pid = int(open(f"{self.root}/data/postmaster.pid").readline())
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        for p in [pid] + [int(x) for x in out.split()]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(600):  # the postmaster gone and its children too
            if subprocess.run(["pgrep", "-f", f"{self.root}/data"], capture_output=True).returncode:
                break
            time.sleep(0.1)
        try:
            os.unlink(f"{self.root}/data/postmaster.pid")
        except FileNotFoundError:
            pass

    def createdb(self, name):
        self.run([f"{PGBIN}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                  name])
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self):
        try:
            self.run([f"{PGBIN}/pg_ctl", "-D", f"{self.root}/data", "-m", "immediate", "stop"])
        except subprocess.CalledProcessError:
            pass


class Serve:
    def __init__(self, binary, store, log, threads=0):
        extra = ["--threads", str(threads)] if threads else []
        self.p = subprocess.Popen([binary, "serve", "--port", "0", "--no-token", "--store", store]
                                  + extra, stdout=subprocess.PIPE,
                                  stderr=open(log, "w"), text=True)
        line = self.p.stdout.readline()
        if not line.startswith("inloop serve: http://"):
            raise SystemExit(f"serve did not start: {line} (see {log})")
        self.base = line.split()[2].rstrip("/") + "/"

    def req(self, path, body=None, timeout=120):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.base + path, data=data,
                                   headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=timeout) as f:
            return json.loads(f.read())

    def stop(self):
        stop_gently(self.p)


def stop_gently(p):
    """SIGTERM, and SIGKILL when the process has not ended within 60 s."""
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()



# ---- one writer process (pg_bench.py --writer BASE NAME BATCH) --------------------------------
# Makes its run, prints "ready RUN_ID", reads the end time (time.monotonic, system-wide) from
# stdin, then posts batches on one kept-alive connection until then (or SIGUSR1), and prints one
# JSON line: {"run", "acked", "lat" (seconds per acknowledged batch), "t_last"}.

class BatchTemplate:
    """A batch of `batch` points over two series (loss, acc), steps from `step`, made with one
    C-level % per batch: the writers (sharing the machine with the server) spend their CPU on
    the requests, not on formatting 1000 points one by one in Python. Values are precomputed
    per position in the batch; steps and wall times are the batch's."""

    def __init__(self, batch):
        self.batch = batch
        parts = []
        for j in range(batch):
            parts.append('{"key":"%s","step":%%d,"wall_time":%%.1f,"value":%r}'
                         % ("loss" if j % 2 == 0 else "acc", 1.0 / (1 + j)))
        self.fmt = '{"points":[' + ",".join(parts) + "]}"

    def body(self, step, wall):
        args = []
        for j in range(self.batch):
            args.append(step + j // 2)
            args.append(wall)
        return (self.fmt % tuple(args)).encode()


def writer_main(base, name, batch):
    stop = []
    signal.signal(signal.SIGUSR1, lambda *_: stop.append(1))
    u = urllib.parse.urlsplit(base)
    conn = [None]

    def post(path, body, timeout=30):
        if conn[0] is None:
            conn[0] = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            conn[0].request("POST", u.path + path, body=body,
                            headers={"Content-Type": "application/json"})
            r = conn[0].getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            conn[0].close()
            conn[0] = None
            raise
        if r.status // 100 != 2:
            raise OSError(f"HTTP {r.status}: {data[:200]!r}")
        return json.loads(data)

    rid = post("api/v1/runs", json.dumps({"name": name}).encode(), timeout=120)["id"]
    print("ready", rid, flush=True)
    t_end = float(sys.stdin.readline())
    step, acked, lat, t_last = 0, 0, [], time.monotonic()
    wall = 1.7e9
    template = BatchTemplate(batch)
    while time.monotonic() < t_end and not stop:
        body = template.body(step, wall + step)
        t0 = time.monotonic()
        try:
            post(f"api/v1/runs/{rid}/points", body)
        except OSError:
            time.sleep(0.2)  # the server (or its database) is down: not acknowledged
            continue
        t_last = time.monotonic()
        lat.append(t_last - t0)
        acked += batch
        step += batch // 2
    print(json.dumps({"run": rid, "acked": acked, "lat": lat, "t_last": t_last}), flush=True)


def ingest(srv, a, name, seconds, during=None):
    """WRITERS writer processes for SECONDS. Returns (acked points per run, latencies, elapsed).
    `during(procs)` runs in this process while they write (the kill -9 phase)."""
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--writer", srv.base,
                               f"{name}-{i}", str(a.batch)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for i in range(a.writers)]
    for p in procs:
        line = p.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            for q in procs:
                q.kill()
            raise SystemExit(f"a writer could not make its run: {line}")
    t0 = time.monotonic()
    for p in procs:
        p.stdin.write(f"{t0 + seconds}\n")
        p.stdin.flush()
    if during:
        during(procs)
    acked, lat, t_last = {}, [], t0
    for p in procs:
        r = json.loads(p.stdout.read())
        p.wait()
        acked[r["run"]] = r["acked"]
        lat.extend(r["lat"])
        t_last = max(t_last, r["t_last"])
    return acked, lat, t_last - t0


def stored_points(srv, rid):
    d = srv.req(f"api/v1/runs/{rid}")
    return sum(s["points"] for s in d["series"])


def median_ms(f, reps):
    ts = []
    for _ in range(reps):
        t0 = time.monotonic()
        f()
        ts.append(time.monotonic() - t0)
    return statistics.median(ts) * 1000


def bench_ingest(srv, a, res):
    acked, lat, el = ingest(srv, a, "ingest", a.seconds)
    lat.sort()
    total = sum(acked.values())
    held = {rid: stored_points(srv, rid) for rid in acked}
    res["ingest points/s"] = total / el
    res["ingest p50 ms"] = lat[len(lat) // 2] * 1000 if lat else float("nan")
    res["ingest p99 ms"] = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
    res["ingest points acknowledged"] = total
    res["ingest points held by the server"] = sum(held.values())
    res["ingest points lost"] = sum(max(0, n - held[rid]) for rid, n in acked.items())


def prepare_listing(srv, a):
    """RUNS finished runs made through the API; returns the listing reads to time."""
    def mk(k):
        for i in range(k, a.runs - a.writers, 16):
            rid = srv.req("api/v1/runs", {"name": f"run-{i:05d}", "params": {"lr": i % 7}})["id"]
            srv.req(f"api/v1/runs/{rid}/finish", {"status": "finished", "exit_code": 0})
    ts = [threading.Thread(target=mk, args=(k,)) for k in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert srv.req("api/v1/runs?limit=1")["total"] >= a.runs - a.writers
    return {
        f"runs listing ms ({a.runs:,} runs, page 1)": lambda: srv.req("api/v1/runs?limit=100"),
        "runs listing ms (sort=name)": lambda: srv.req("api/v1/runs?limit=100&sort=name&order=asc"),
    }


def prepare_wide(srv, a):
    """One run with COLUMNS series of POINTS points; returns the reads to time."""
    rid = srv.req("api/v1/runs", {"name": "wide"})["id"]
    for c0 in range(0, a.columns, 50):
        pts = [{"key": f"col/{c:04d}", "step": s, "wall_time": 1.7e9 + s, "value": c + s * 1e-3}
               for c in range(c0, min(a.columns, c0 + 50)) for s in range(a.points)]
        srv.req(f"api/v1/runs/{rid}/points", {"points": pts})
    srv.req(f"api/v1/runs/{rid}/finish", {"status": "finished", "exit_code": 0})
    d = srv.req(f"api/v1/runs/{rid}")
    assert len(d["series"]) == a.columns, len(d["series"])
    return {
        f"{a.columns}-column run view ms": lambda: srv.req(f"api/v1/runs/{rid}"),
        "one series read ms": lambda: srv.req(f"api/v1/runs/{rid}/series?key=col/0500"),
    }


def bench_backend(binary, store, work, a):
    """Ingest (timed here), then the read workloads made; returns (results, reads, server): the
    server stays up so that main() can time both backends' reads alternately."""
    res, reads = {}, {}
    srv = Serve(binary, store, f"{work}/serve-{len(os.listdir(work))}.log", a.threads)
    try:
        if "ingest" in a.phases:
            bench_ingest(srv, a, res)
        if "listing" in a.phases:
            reads.update(prepare_listing(srv, a))
        if "wide" in a.phases:
            reads.update(prepare_wide(srv, a))
    except BaseException:
        srv.stop()
        raise
    return res, reads, srv


def time_reads(backends, reps):
    """Median ms of each read per backend, the backends' requests alternating within each rep
    (so a change in the machine's load between phases moves both sides alike), after 3
    unmeasured warm-up rounds."""
    out = [{} for _ in backends]
    for key in backends[0][0] if backends else {}:
        ts = [[] for _ in backends]
        for rep in range(reps + 3):
            for b, (reads, _) in enumerate(backends):
                t0 = time.monotonic()
                reads[key]()
                if rep >= 3:
                    ts[b].append(time.monotonic() - t0)
        for b in range(len(backends)):
            out[b][key] = statistics.median(ts[b]) * 1000
    return out


def kill9(binary, pg, work, a):
    store = pg.createdb("inloop_kill9")
    srv = Serve(binary, store, f"{work}/serve-kill9.log", a.threads)

    def during(procs):
        time.sleep(a.seconds / 2)
        pg.kill9()
        time.sleep(2)
        pg.start()
        time.sleep(5)  # the clients go on against the restarted database
        for p in procs:
            p.send_signal(signal.SIGUSR1)

    acked = ingest(srv, a, "k9", a.seconds + 10, during)[0]
    srv.stop()
    srv = Serve(binary, store, f"{work}/serve-kill9b.log", a.threads)  # opening recovers the dead writers
    lost = sum(max(0, n - stored_points(srv, rid)) for rid, n in acked.items())
    srv.stop()
    return sum(acked.values()), lost


def kill9_serve(binary, pg, work, a):
    """SIGKILL of `inloop serve` itself mid-ingest into PostgreSQL; a fresh serve must hold every
    point a client got a 2xx for."""
    store = pg.createdb("inloop_kill9_serve")
    srv = Serve(binary, store, f"{work}/serve-kill9s.log", a.threads)

    def during(procs):
        time.sleep(a.seconds / 2)
        srv.p.kill()
        srv.p.wait()
        time.sleep(1)  # the writers' batches fail now: not acknowledged
        for p in procs:
            p.send_signal(signal.SIGUSR1)

    acked = ingest(srv, a, "k9s", a.seconds + 10, during)[0]
    srv = Serve(binary, store, f"{work}/serve-kill9s-b.log", a.threads)
    lost = sum(max(0, n - stored_points(srv, rid)) for rid, n in acked.items())
    srv.stop()
    return sum(acked.values()), lost


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--writer":
        return writer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--writers", type=int, default=8, help="writer processes, one run each")
    ap.add_argument("--batch", type=int, default=1000, help="points per request")
    ap.add_argument("--seconds", type=float, default=30, help="ingest duration")
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--columns", type=int, default=1000)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0,
                    help="inloop serve --threads (default: serve's own, 4 I/O threads)")
    ap.add_argument("--phases", default="ingest,listing,wide,kill9",
                    help="comma-separated subset of ingest,listing,wide,kill9,kill9serve")
    ap.add_argument("--backends", default="embedded,postgresql",
                    help="comma-separated subset of embedded,postgresql (the ratio needs both)")
    a = ap.parse_args()
    a.phases = set(a.phases.split(","))
    a.backends = set(a.backends.split(","))
    work = tempfile.mkdtemp(prefix="inloop-pgbench-")
    pg = Postgres(tempfile.mkdtemp(prefix="inloop-pgbench-pg-"))
    k9 = k9s = None
    try:
        emb, pgr = {}, {}
        servers, reads = [], []
        try:
            if "embedded" in a.backends:
                emb, r, srv = bench_backend(a.binary, f"{work}/store", work, a)
                servers.append(srv)
                reads.append((r, emb))
            if "postgresql" in a.backends:
                pgr, r, srv = bench_backend(a.binary, pg.createdb("inloop_bench"), work, a)
                servers.append(srv)
                reads.append((r, pgr))
            for (_, res), times in zip(reads, time_reads(reads, a.reps)):
                res.update(times)
        finally:
            for srv in servers:
                srv.stop()
        if "kill9" in a.phases:
            k9 = kill9(a.binary, pg, work, a)
        if "kill9serve" in a.phases:
            k9s = kill9_serve(a.binary, pg, work, a)
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"{a.writers} writer processes x {a.seconds:g} s, {a.batch}-point batches, "
          f"serve --threads {a.threads or 'default'}; {os.cpu_count()} CPUs, load average {' '.join(load)}")
    print("| measure | embedded | PostgreSQL | PG / embedded |")
    print("|---|---|---|---|")
    for k in emb or pgr:
        e, p = emb.get(k), pgr.get(k)
        ratio = f"{p / e:.2f}x" if e and p is not None else "-"
        show = lambda v: "-" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"
        print(f"| {k} | {show(e)} | {show(p)} | {ratio} |")
    lost = emb.get("ingest points lost", 0) + pgr.get("ingest points lost", 0)
    if k9:
        print(f"\nkill -9 of the PostgreSQL server mid-ingest: {k9[0]:,} points acknowledged, "
              f"{k9[1]} lost")
        lost += k9[1]
    if k9s:
        print(f"kill -9 of inloop serve (store on PostgreSQL) mid-ingest: {k9s[0]:,} points "
              f"acknowledged, {k9s[1]} lost")
        lost += k9s[1]
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
