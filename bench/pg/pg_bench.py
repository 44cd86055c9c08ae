#!/usr/bin/env python3
"""PostgreSQL store vs the embedded store (issue 17 part 2), through `inloop serve`.

Starts its own PostgreSQL 15 (initdb in a temp dir, loopback port; as root through runuser),
then for each backend (the embedded store in a temp dir, then a fresh PostgreSQL database):

  ingest   WRITERS concurrent HTTP clients (threads, one run each) post batches of BATCH points
           to one `inloop serve` for SECONDS: points/s sustained, p50/p99 request latency, and
           every acknowledged point read back (per run, from the API's series summary).
  listing  RUNS runs (made through the ingest API), then GET /api/v1/runs?limit=100 (sorted by
           creation, the dashboard's first page) and ?sort=name: median of REPS requests.
  wide     one run with COLUMNS series of POINTS points each: GET /api/v1/runs/{id} (every
           series' summary) and GET /api/v1/runs/{id}/series?key=one: median of REPS.
Last, kill -9: WRITERS clients ingest into PostgreSQL, the server's processes get SIGKILL mid
ingest, the server restarts; then every point a client got a 2xx for must be in the store.

Prints one markdown table; the ratio column is PostgreSQL / embedded from this same run.
Usage: pg_bench.py INLOOP_BIN [--writers 8] [--batch 1000] [--seconds 30] [--runs 10000]
                              [--columns 1000] [--points 200]
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile
import threading, time, urllib.error, urllib.request

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
    def __init__(self, binary, store, log):
        self.p = subprocess.Popen([binary, "serve", "--port", "0", "--no-token", "--store", store,
                                   "--threads", "16"], stdout=subprocess.PIPE,
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
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def ingest(srv, writers, batch, seconds, name, stop_event=None):
    """Returns (acked points per run id, latencies, elapsed)."""
    acked, lat, lock = {}, [], threading.Lock()
    t_end = time.monotonic() + seconds

    def client(i):
        rid = srv.req("api/v1/runs", {"name": f"{name}-{i}"})["id"]
        step, mine, my_lat = 0, 0, []
        while time.monotonic() < t_end and not (stop_event and stop_event.is_set()):
            pts = [{"key": "loss" if j % 2 == 0 else "acc", "step": step + j // 2,
                    "wall_time": 1.7e9 + step, "value": 1.0 / (1 + step + j)}
                   for j in range(batch)]
            t0 = time.monotonic()
            try:
                srv.req(f"api/v1/runs/{rid}/points", {"points": pts}, timeout=30)
            except (urllib.error.URLError, OSError, TimeoutError):
                time.sleep(0.2)  # the server (or its database) is down: not acknowledged
                continue
            my_lat.append(time.monotonic() - t0)
            mine += batch
            step += batch // 2
        with lock:
            acked[rid] = mine
            lat.extend(my_lat)

    t0 = time.monotonic()
    ts = [threading.Thread(target=client, args=(i,)) for i in range(writers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return acked, lat, time.monotonic() - t0


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


def bench_backend(binary, store, work, a):
    res = {}
    srv = Serve(binary, store, f"{work}/serve-{len(os.listdir(work))}.log")
    try:
        acked, lat, el = ingest(srv, a.writers, a.batch, a.seconds, "ingest")
        lat.sort()
        total = sum(acked.values())
        lost = sum(max(0, n - stored_points(srv, rid)) for rid, n in acked.items())
        res["ingest points/s"] = total / el
        res["ingest p50 ms"] = lat[len(lat) // 2] * 1000
        res["ingest p99 ms"] = lat[int(len(lat) * 0.99)] * 1000
        res["ingest lost points"] = lost
        # 10,000 runs (the ingest runs above count too).
        made = a.writers
        def mk(k):
            for i in range(k, a.runs - a.writers, 16):
                rid = srv.req("api/v1/runs", {"name": f"run-{i:05d}", "params": {"lr": i % 7}})["id"]
                srv.req(f"api/v1/runs/{rid}/finish", {"status": "finished", "exit_code": 0})
        ts = [threading.Thread(target=mk, args=(k,)) for k in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert srv.req("api/v1/runs?limit=1")["total"] >= a.runs
        res["runs listing ms (10k runs, page 1)"] = median_ms(lambda: srv.req("api/v1/runs?limit=100"), a.reps)
        res["runs listing ms (sort=name)"] = median_ms(lambda: srv.req("api/v1/runs?limit=100&sort=name&order=asc"), a.reps)
        # One wide run.
        rid = srv.req("api/v1/runs", {"name": "wide"})["id"]
        for c0 in range(0, a.columns, 50):
            pts = [{"key": f"col/{c:04d}", "step": s, "wall_time": 1.7e9 + s, "value": c + s * 1e-3}
                   for c in range(c0, min(a.columns, c0 + 50)) for s in range(a.points)]
            srv.req(f"api/v1/runs/{rid}/points", {"points": pts})
        srv.req(f"api/v1/runs/{rid}/finish", {"status": "finished", "exit_code": 0})
        d = srv.req(f"api/v1/runs/{rid}")
        assert len(d["series"]) == a.columns, len(d["series"])
        res[f"{a.columns}-column run view ms"] = median_ms(lambda: srv.req(f"api/v1/runs/{rid}"), a.reps)
        res["one series read ms"] = median_ms(lambda: srv.req(f"api/v1/runs/{rid}/series?key=col/0500"), a.reps)
    finally:
        srv.stop()
    return res


def kill9(binary, pg, work, a):
    store = pg.createdb("inloop_kill9")
    srv = Serve(binary, store, f"{work}/serve-kill9.log")
    stop = threading.Event()
    out = {}
    th = threading.Thread(target=lambda: out.update(r=ingest(srv, a.writers, a.batch, a.seconds + 10, "k9", stop)))
    th.start()
    time.sleep(a.seconds / 2)
    pg.kill9()
    time.sleep(2)
    pg.start()
    time.sleep(5)  # the clients go on against the restarted database
    stop.set()
    th.join()
    srv.stop()
    srv = Serve(binary, store, f"{work}/serve-kill9b.log")  # opening recovers the dead writers
    acked = out["r"][0]
    lost = sum(max(0, n - stored_points(srv, rid)) for rid, n in acked.items())
    srv.stop()
    return sum(acked.values()), lost


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--columns", type=int, default=1000)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--reps", type=int, default=15)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="inloop-pgbench-")
    pg = Postgres(tempfile.mkdtemp(prefix="inloop-pgbench-pg-"))
    try:
        emb = bench_backend(a.binary, f"{work}/store", work, a)
        pgr = bench_backend(a.binary, pg.createdb("inloop_bench"), work, a)
        acked, lost = kill9(a.binary, pg, work, a)
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)
    print(f"| measure | embedded | PostgreSQL | PG / embedded |")
    print(f"|---|---|---|---|")
    for k in emb:
        e, p = emb[k], pgr[k]
        ratio = f"{p / e:.2f}x" if e else "-"
        print(f"| {k} | {e:,.1f} | {p:,.1f} | {ratio} |")
    print(f"\nkill -9 of the PostgreSQL server mid-ingest: {acked:,} points acknowledged, {lost} lost")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if lost or emb["ingest lost points"] or pgr["ingest lost points"] else 0)


if __name__ == "__main__":
    main()
