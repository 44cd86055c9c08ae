# The SDK in a multi-rank job (docs/sdk_protocol.md "Ranks"): a worker that did not inherit the
# pipe (its INLOOP_METRICS_FD names another file) writes into the FIFO of INLOOP_METRICS_PATH,
# never into that file; every message carries the rank, a "rank" hello names host and world
# size, a new step's log carries the step time (timed() sections, else the cadence), lines stay
# within PIPE_BUF; a single process (no rank, or a world of one) sends what it always sent.
import importlib
import json
import os
import socket
import sys
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYDIR = os.path.join(REPO, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

KEYS = ("INLOOP_METRICS_FD", "INLOOP_METRICS_FD_INO", "INLOOP_METRICS_PATH", "INLOOP_PRINT",
        "RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "SLURMD_NODENAME", "INLOOP_RANKS_ADDR",
        "INLOOP_RANKS_TOKEN", "INLOOP_RANKS_HOST")


def fresh_inloop():
    sys.modules.pop("inloop", None)
    return importlib.import_module("inloop")


class RanksTest(unittest.TestCase):
    def setUp(self):
        self.saved = {k: os.environ.get(k) for k in KEYS}
        for k in KEYS:
            os.environ.pop(k, None)
        self.tmp = tempfile.TemporaryDirectory()
        self.fifo = os.path.join(self.tmp.name, "sdk")
        os.mkfifo(self.fifo, 0o600)
        # The supervisor's side: open for reading (and writing, so it never reads as ended).
        self.reader = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        # A file that happens to hold the number the worker was told about.
        self.other = open(os.path.join(self.tmp.name, "other.txt"), "wb")
        self.opened = []

    def tearDown(self):
        inloop = sys.modules.get("inloop")
        if inloop is not None and inloop._S.shared and inloop._S.fd is not None:
            os.close(inloop._S.fd)
        sys.modules.pop("inloop", None)
        os.close(self.reader)
        self.other.close()
        for fd in self.opened:
            os.close(fd)
        self.tmp.cleanup()
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def worker_env(self, **extra):
        os.environ["INLOOP_METRICS_FD"] = str(self.other.fileno())
        os.environ["INLOOP_METRICS_FD_INO"] = "1"  # not the inode of `other`
        os.environ["INLOOP_METRICS_PATH"] = self.fifo
        os.environ.update(extra)

    def lines(self):
        data = b""
        while True:
            try:
                chunk = os.read(self.reader, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        return [l for l in data.decode().split("\n") if l]

    def test_worker_writes_into_the_fifo_with_its_rank(self):
        self.worker_env(RANK="2", WORLD_SIZE="4", SLURMD_NODENAME="node-07")
        inloop = fresh_inloop()
        self.assertTrue(inloop.enabled())
        self.assertEqual(inloop.rank(), 2)
        inloop.log(1, {"train/loss": 1.5})
        with inloop.timed():
            time.sleep(0.05)
        inloop.log(1, lr=0.1)  # the same step: no step time
        inloop.log(2, {"train/loss": float("nan")})
        inloop.params(lr=0.1)
        msgs = [json.loads(l) for l in self.lines()]
        self.assertEqual(msgs[0], {"t": "rank", "rank": 2, "world_size": 4, "host": "node-07"})
        self.assertEqual([m.get("rank") for m in msgs], [2] * 5)
        self.assertNotIn("step_time", msgs[1])  # the first step has no previous one
        self.assertNotIn("step_time", msgs[2])
        self.assertEqual(msgs[3]["metrics"], {"train/loss": "NaN"})
        self.assertGreaterEqual(msgs[3]["step_time"], 0.05)
        self.assertLess(msgs[3]["step_time"], 30)
        self.assertEqual(msgs[4]["t"], "params")
        self.assertEqual(os.path.getsize(self.other.name), 0)  # never written into

    def test_cadence_without_timed_and_per_step(self):
        self.worker_env(SLURM_PROCID="1", SLURM_NTASKS="2")
        inloop = fresh_inloop()
        inloop.log(10, a=1)
        time.sleep(0.04)
        inloop.log(12, a=2)  # two steps later: the time per step
        inloop.log(5, a=3)   # a rollback: no step time, measured afresh from here
        msgs = [json.loads(l) for l in self.lines()][1:]
        self.assertNotIn("step_time", msgs[0])
        self.assertGreaterEqual(msgs[1]["step_time"], 0.02)
        self.assertNotIn("step_time", msgs[2])

    def test_lines_stay_within_pipe_buf_on_the_fifo(self):
        self.worker_env(OMPI_COMM_WORLD_RANK="1", OMPI_COMM_WORLD_SIZE="2")
        inloop = fresh_inloop()
        inloop.log(1, {"k%04d" % i: float(i) for i in range(600)})
        lines = self.lines()
        keys = {}
        for l in lines[1:]:
            self.assertLessEqual(len(l.encode()) + 1, 4096)
            m = json.loads(l)
            self.assertEqual((m["t"], m["step"], m["rank"]), ("log", 1, 1))
            keys.update(m["metrics"])
        self.assertEqual(len(keys), 600)

    def test_single_process_is_unchanged(self):
        r, w = os.pipe()
        self.opened += [r, w]
        os.set_blocking(r, False)
        os.environ["INLOOP_METRICS_FD"] = str(w)
        os.environ["INLOOP_METRICS_FD_INO"] = str(os.fstat(w).st_ino)
        os.environ["INLOOP_METRICS_PATH"] = self.fifo
        os.environ.update(SLURM_PROCID="0", SLURM_NTASKS="1")  # a one-task Slurm job
        inloop = fresh_inloop()
        inloop.log(1, loss=1.0)
        inloop.log(2, loss=0.5)
        self.assertEqual(inloop.rank(), 0)
        got = [json.loads(l) for l in os.read(r, 65536).decode().split("\n") if l]
        self.assertEqual(got, [{"t": "log", "step": 1, "metrics": {"loss": 1.0}},
                               {"t": "log", "step": 2, "metrics": {"loss": 0.5}}])
        self.assertEqual(self.lines(), [])  # nothing on the FIFO

    def test_no_channel_at_all_disables_quietly(self):
        os.environ["INLOOP_METRICS_FD"] = str(self.other.fileno())
        os.environ["INLOOP_METRICS_FD_INO"] = "1"
        os.environ.update(RANK="1", WORLD_SIZE="2")
        inloop = fresh_inloop()
        self.assertFalse(inloop.enabled())
        inloop.log(1, loss=1.0)
        self.assertEqual(os.path.getsize(self.other.name), 0)


class RanksTcpTest(unittest.TestCase):
    """A rank on another host (INLOOP_RANKS_HOST is not its hostname), or one that cannot open the
    FIFO, reports over TCP: the hello with the run's secret, then the lines it would write to the
    FIFO. A supervisor that goes away costs a warning and dropped messages, never an exception."""

    TOKEN = "ab" * 32

    worker_env = RanksTest.worker_env
    lines = RanksTest.lines

    def setUp(self):
        RanksTest.setUp(self)
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(60)
        self.conns = []
        os.environ["INLOOP_RANKS_ADDR"] = "127.0.0.1:%d" % self.server.getsockname()[1]
        os.environ["INLOOP_RANKS_TOKEN"] = self.TOKEN

    def tearDown(self):
        inloop = sys.modules.get("inloop")
        if inloop is not None and isinstance(inloop._S.fd, inloop._TcpChannel):
            inloop._S.fd._close()
        for c in self.conns:
            c.close()
        self.server.close()
        RanksTest.tearDown(self)

    def accept(self):
        c, _ = self.server.accept()
        c.settimeout(60)
        self.conns.append(c)
        return c

    def read_lines(self, conn, n):
        data = b""
        while data.count(b"\n") < n:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode().split("\n")[:n]

    def test_a_rank_on_another_host_uses_tcp(self):
        self.worker_env(RANK="1", WORLD_SIZE="2", SLURMD_NODENAME="node-02",
                        INLOOP_RANKS_HOST=socket.gethostname() + "-not")
        inloop = fresh_inloop()
        self.assertTrue(inloop.enabled())
        inloop.log(1, {"train/loss": 2.0})
        inloop.log(2, {"train/loss": float("nan")})
        hello, rank, log1, log2 = self.read_lines(self.accept(), 4)
        self.assertEqual(hello, "inloop-ranks/1 " + self.TOKEN)
        self.assertEqual(json.loads(rank),
                         {"t": "rank", "rank": 1, "world_size": 2, "host": "node-02"})
        self.assertEqual(json.loads(log1),
                         {"t": "log", "step": 1, "rank": 1, "metrics": {"train/loss": 2.0}})
        got = json.loads(log2)
        self.assertEqual((got["step"], got["rank"], got["metrics"]),
                         (2, 1, {"train/loss": "NaN"}))
        self.assertIn("step_time", got)
        self.assertEqual(self.lines(), [])  # nothing on the FIFO, though its path was there

    def test_a_fifo_that_cannot_be_opened_falls_back_to_tcp(self):
        self.worker_env(RANK="3", WORLD_SIZE="4",
                        INLOOP_METRICS_PATH=os.path.join(self.tmp.name, "missing"),
                        INLOOP_RANKS_HOST=socket.gethostname())
        inloop = fresh_inloop()
        self.assertTrue(inloop.enabled())
        inloop.log(5, loss=1.0)
        hello, rank, log = self.read_lines(self.accept(), 3)
        self.assertEqual(hello, "inloop-ranks/1 " + self.TOKEN)
        self.assertEqual(json.loads(rank)["rank"], 3)
        self.assertEqual(json.loads(log)["metrics"], {"loss": 1.0})
        self.assertNotIn("badfifo", inloop._S.warned)

    def test_reconnects_with_the_hello_then_gives_up(self):
        self.worker_env(RANK="1", WORLD_SIZE="2", INLOOP_RANKS_HOST="elsewhere")
        inloop = fresh_inloop()
        inloop.log(1, loss=1.0)
        first = self.accept()
        self.assertEqual(len(self.read_lines(first, 3)), 3)
        first.close()  # the supervisor drops the connection (an attempt's end)
        ch = inloop._S.fd
        for step in range(2, 200):  # a send notices within a few messages
            inloop.log(step, loss=1.0)
            if ch.sock is None:
                break
        self.assertIsNone(ch.sock)
        self.assertIn("tcpretry", inloop._S.warned)
        self.assertTrue(inloop.enabled())
        inloop.log(300, loss=1.0)  # within the backoff: dropped, no connection attempt
        self.assertIsNone(ch.sock)
        ch.next_try = 0.0  # the backoff is over
        inloop.log(301, loss=0.5)
        hello, rank, log = self.read_lines(self.accept(), 3)
        self.assertEqual(hello, "inloop-ranks/1 " + self.TOKEN)
        self.assertEqual(json.loads(rank)["t"], "rank")
        self.assertEqual(json.loads(log)["step"], 301)
        # The supervisor is gone: failed connections in a row end the channel.
        self.server.close()
        for _ in range(inloop._TCP_MAX_FAILURES + 2):
            ch._close()
            ch.next_try = 0.0
            inloop.log(400, loss=1.0)
            if not inloop.enabled():
                break
        self.assertFalse(inloop.enabled())
        self.assertIn("broken", inloop._S.warned)


if __name__ == "__main__":
    unittest.main()
