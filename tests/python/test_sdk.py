# Unit tests of the Python SDK (python/inloop): the JSON lines it writes to INLOOP_METRICS_FD,
# NaN encoding, the no-op and print paths outside inloop, broken pipes, thread safety, control(),
# remedies() (control file > environment, malformed input), data_index() and skip_data().
# Run: PYTHONPATH=python /usr/bin/python3 -m unittest discover -s tests/python -v
import contextlib
import importlib
import io
import itertools
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYDIR = os.path.join(REPO, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

ENV_KEYS = ("INLOOP_METRICS_FD", "INLOOP_PRINT", "INLOOP_CONTROL", "INLOOP_RUN_ID",
            "INLOOP_RUN_NAME", "INLOOP_ATTEMPT", "INLOOP_RESUME_FROM", "INLOOP_SKIP",
            "INLOOP_LR_SCALE", "INLOOP_MICRO_BATCH")


def fresh_inloop():
    sys.modules.pop("inloop", None)
    return importlib.import_module("inloop")


def strict_loads(line):
    def bad(name):
        raise ValueError("bare %s in JSON" % name)
    return json.loads(line, parse_constant=bad)


class EnvMixin:
    def save_env(self):
        self._saved = {k: os.environ.get(k) for k in ENV_KEYS}
        for k in ENV_KEYS:
            os.environ.pop(k, None)

    def restore_env(self):
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class PipeHarness(EnvMixin, unittest.TestCase):
    """A pipe stands in for the supervisor; a thread drains it so writers never block."""

    def setUp(self):
        self.save_env()
        self.r, self.w = os.pipe()
        self.chunks = []
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        os.environ["INLOOP_METRICS_FD"] = str(self.w)
        os.environ["INLOOP_RUN_ID"] = "r-test"
        self.inloop = fresh_inloop()
        self.w_open = True

    def _drain(self):
        while True:
            b = os.read(self.r, 65536)
            if not b:
                break
            self.chunks.append(b)

    def lines(self):
        """Close the write end, wait for EOF, return the parsed lines."""
        if self.w_open:
            os.close(self.w)
            self.w_open = False
        self.reader.join(10)
        data = b"".join(self.chunks)
        self.assertTrue(data == b"" or data.endswith(b"\n"), "last line not terminated")
        return [strict_loads(l) for l in data.decode("utf-8").splitlines()]

    def tearDown(self):
        if self.w_open:
            os.close(self.w)
        self.reader.join(10)
        os.close(self.r)
        self.restore_env()


class PipeTest(PipeHarness):
    def test_reading_remedies_is_acknowledged_once(self):
        # The supervisor learns that a skip window reaches this process (docs/remedy.md).
        il = self.inloop
        os.environ["INLOOP_ATTEMPT"] = "2"
        il.remedies()
        il.control()
        list(il.skip_data([1, 2, 3], start_step=1, windows=[]))
        il.remedies()
        self.assertEqual(self.lines(), [{"t": "remedies", "attempt": 2}])

    def test_remedy_request_once_per_seq_and_applied(self):
        import tempfile
        il = self.inloop
        d = tempfile.mkdtemp()
        ctl = os.path.join(d, "control.json")
        os.environ["INLOOP_CONTROL"] = ctl

        def write(obj):  # atomically, as the supervisor does
            tmp = ctl + ".tmp"
            with open(tmp, "w") as f:
                json.dump(obj, f)
            os.replace(tmp, ctl)

        write({"attempt": 1, "resume_from": None})
        self.assertIsNone(il.remedy_request())   # announces that it polls; nothing asked yet
        self.assertIsNone(il.remedy_request())
        write({"attempt": 1, "live": {"seq": 1, "action": "rollback_skip",
                                      "resume_from": "/ck/40.pt", "resume_step": 40,
                                      "skip_windows": [[41, 46]], "lr_scale": None,
                                      "micro_batch": None}})
        req = il.remedy_request()
        self.assertEqual(req, {"seq": 1, "action": "rollback_skip", "resume_from": "/ck/40.pt",
                               "resume_step": 40, "skip_windows": [(41, 46)], "lr_scale": None,
                               "micro_batch": None})
        self.assertIsNone(il.remedy_request())   # returned once
        write({"attempt": 1, "live": {"seq": 1, "resume_step": 40}})
        self.assertIsNone(il.remedy_request())   # the same seq again: not new
        il.remedy_applied(req)
        write({"attempt": 1, "live": {"seq": "x"}})
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertIsNone(il.remedy_request())   # malformed: ignored, never raises
        self.assertEqual(self.lines(), [{"t": "remedies", "attempt": 1}, {"t": "live"},
                                        {"t": "remedy_applied", "seq": 1}])

    def test_log_forms(self):
        il = self.inloop
        self.assertTrue(il.enabled())
        il.log(10, {"train/loss": 2.31, "lr": 0.0003})
        il.log(11, loss=1.5, acc=True)
        il.log(None, {"x": 1})
        il.log({"y": 2})
        il.log(step=12, z=3)
        il.log(13, {"a": 1}, b=2)
        il.log(14, {"eval": {"loss": 0.5, "acc": 0.9}})
        il.log(15, metrics={"m": 4})
        got = self.lines()
        self.assertEqual(got[0], {"t": "log", "step": 10,
                                  "metrics": {"train/loss": 2.31, "lr": 0.0003}})
        self.assertEqual(got[1], {"t": "log", "step": 11, "metrics": {"loss": 1.5, "acc": 1}})
        self.assertEqual(got[2], {"t": "log", "metrics": {"x": 1}})
        self.assertEqual(got[3], {"t": "log", "metrics": {"y": 2}})
        self.assertEqual(got[4], {"t": "log", "step": 12, "metrics": {"z": 3}})
        self.assertEqual(got[5], {"t": "log", "step": 13, "metrics": {"a": 1, "b": 2}})
        self.assertEqual(got[6]["metrics"], {"eval/loss": 0.5, "eval/acc": 0.9})
        self.assertEqual(got[7], {"t": "log", "step": 15, "metrics": {"m": 4}})
        self.assertEqual(len(got), 8)

    def test_duck_typed_values(self):
        class Scalar:  # what a 0-d tensor / numpy scalar looks like to the SDK
            def __float__(self):
                return 0.25

        class StepLike:
            def __int__(self):
                return 7

        self.inloop.log(StepLike(), {"t": Scalar()})
        try:
            import numpy as np
        except ImportError:
            np = None
        if np is not None:
            self.inloop.log(np.int64(8), {"f32": np.float32(0.5), "i64": np.int64(3)})
        got = self.lines()
        self.assertEqual(got[0], {"t": "log", "step": 7, "metrics": {"t": 0.25}})
        if np is not None:
            self.assertEqual(got[1], {"t": "log", "step": 8, "metrics": {"f32": 0.5, "i64": 3.0}})

    def test_torch_tensor_if_available(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch not importable")
        self.inloop.log(torch.tensor(3), {"loss": torch.tensor(1.5),
                                          "nan": torch.tensor(float("nan"))})
        got = self.lines()
        self.assertEqual(got, [{"t": "log", "step": 3, "metrics": {"loss": 1.5, "nan": "NaN"}}])

    def test_nan_inf_encoding(self):
        self.inloop.log(1, {"a": float("nan"), "b": float("inf"), "c": float("-inf"), "d": 1.0})
        self.inloop.params(x=float("nan"))
        got = self.lines()  # strict_loads already rejects bare NaN / Infinity
        self.assertEqual(got[0]["metrics"],
                         {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": 1.0})
        self.assertEqual(got[1]["params"], {"x": "NaN"})

    def test_non_numeric_skipped_with_one_warning(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            for i in range(3):
                self.inloop.log(i, {"loss": 1.0, "name": "gpt", "vec": [1, 2], "none": None})
        got = self.lines()
        self.assertEqual([g["metrics"] for g in got], [{"loss": 1.0}] * 3)
        text = err.getvalue()
        self.assertEqual(text.count("'name'"), 1, text)
        self.assertEqual(text.count("'vec'"), 1, text)

    def test_only_non_numeric_sends_nothing(self):
        with contextlib.redirect_stderr(io.StringIO()):
            self.inloop.log(1, {"name": "x"})
        self.assertEqual(self.lines(), [])

    def test_params(self):
        import argparse
        il = self.inloop
        il.params(lr=0.0003, model="gpt", layers=4, bias=False, none=None, shape=(1, 2))
        il.params({"optim": {"lr": 1e-3, "betas": [0.9, 0.95]}, "train/bs": 8})
        il.params(argparse.Namespace(seed=3, out="ck"))
        got = self.lines()
        self.assertEqual(got[0], {"t": "params", "params": {
            "lr": 0.0003, "model": "gpt", "layers": 4, "bias": False, "none": None,
            "shape": "(1, 2)"}})
        self.assertEqual(got[1]["params"],
                         {"optim.lr": 1e-3, "optim.betas": "[0.9, 0.95]", "train/bs": 8})
        self.assertEqual(got[2]["params"], {"seed": 3, "out": "ck"})

    def test_checkpoint(self):
        il = self.inloop
        il.checkpoint("ckpt/ckpt-0000500.pt", 500)                 # the documented order
        il.checkpoint(500, "ckpt/ckpt-0000500.pt")                 # the old order still works
        il.checkpoint(pathlib.Path("ckpt/ckpt-0000500.pt"), 500)
        il.checkpoint(500, pathlib.Path("ckpt/ckpt-0000500.pt"))
        il.checkpoint(path="ckpt/ckpt-0000500.pt", step=500)
        il.checkpoint(step=500, path="ckpt/ckpt-0000500.pt")
        il.checkpoint("/abs/ckpt-x.pt")                           # no step
        got = self.lines()
        want = {"t": "checkpoint", "step": 500, "path": os.path.abspath("ckpt/ckpt-0000500.pt")}
        self.assertEqual(got[:6], [want] * 6)
        self.assertEqual(list(got[0]), ["t", "step", "path"])     # wire format unchanged
        self.assertTrue(os.path.isabs(got[0]["path"]))
        self.assertEqual(got[6], {"t": "checkpoint", "path": "/abs/ckpt-x.pt"})
        self.assertEqual(len(got), 7)

    def test_unicode_and_one_line_per_message(self):
        self.inloop.log(1, {"loss/ü\nx": 1.0})
        self.inloop.params(note="a\nb ✓")
        got = self.lines()
        self.assertEqual(len(got), 2)
        self.assertEqual(got[0]["metrics"], {"loss/ü\nx": 1.0})
        self.assertEqual(got[1]["params"], {"note": "a\nb ✓"})

    def test_large_row_split_and_oversized_metric_dropped(self):
        # A row of 10,000 metrics is larger than one line: it arrives as several lines with the
        # same step, nothing dropped. One metric that alone exceeds a line is dropped, loudly.
        err = io.StringIO()
        row = {"k%05d" % i: 1.0 for i in range(10000)}
        with contextlib.redirect_stderr(err):
            self.inloop.log(1, row)
            self.inloop.log(2, {"x" * 70000: 1.0})
            self.inloop.log(3, {"ok": 1.0})
        got = self.lines()
        self.assertGreater(len(got), 2)
        merged = {}
        for line in got[:-1]:
            self.assertEqual((line["t"], line["step"]), ("log", 1))
            merged.update(line["metrics"])
        self.assertEqual(merged, row)
        self.assertEqual(got[-1], {"t": "log", "step": 3, "metrics": {"ok": 1.0}})
        self.assertIn("64 KiB", err.getvalue())

    def test_threads_do_not_interleave(self):
        il = self.inloop

        def work(tid):
            for i in range(1000):
                il.log(i, {"thread": tid, "train/loss": 1.0 / (i + 1), "pad": 3.25})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = self.lines()
        self.assertEqual(len(got), 10000)
        seen = {}
        for g in got:
            self.assertEqual(g["t"], "log")
            self.assertEqual(set(g["metrics"]), {"thread", "train/loss", "pad"})
            tid = g["metrics"]["thread"]
            self.assertEqual(g["step"], seen.get(tid, -1) + 1)  # each thread's order kept
            seen[tid] = g["step"]
        self.assertEqual(seen, {t: 999 for t in range(10)})

    def test_broken_pipe_disables_after_one_warning(self):
        # The supervisor goes away: close our read end so writes fail with EPIPE.
        os.close(self.w)
        self.w_open = False
        self.reader.join(10)
        r2, w2 = os.pipe()
        os.close(r2)
        self.inloop.init(fd=w2)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.inloop.log(1, {"loss": 1.0})  # must not raise
            self.assertFalse(self.inloop.enabled())
            self.inloop.log(2, {"loss": 1.0})
            self.inloop.params(a=1)
            self.inloop.checkpoint(3, "/x")
        os.close(w2)
        self.assertEqual(err.getvalue().count("broken"), 1, err.getvalue())

    def test_fd_closed_by_program(self):
        self.inloop.log(1, {"loss": 1.0})
        os.close(self.w)   # the training code closes "all fds" (EBADF on the next write)
        self.w_open = False
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.inloop.log(2, {"loss": 1.0})
            self.inloop.log(3, {"loss": 1.0})
        self.assertFalse(self.inloop.enabled())
        self.assertEqual(err.getvalue().count("inloop:"), 1, err.getvalue())
        self.assertEqual(len(self.lines()), 1)

    def test_run_info(self):
        os.environ["INLOOP_ATTEMPT"] = "2"
        self.assertEqual(self.inloop.run_info(), {"run_id": "r-test", "attempt": "2"})


class SubprocessTest(unittest.TestCase):
    def test_inherited_fd_in_child_process(self):
        """As under the supervisor: the child inherits an already-open pipe fd."""
        r, w = os.pipe()
        env = dict(os.environ, INLOOP_METRICS_FD=str(w), PYTHONPATH=PYDIR)
        code = ("import inloop\n"
                "inloop.params(lr=0.001, model='tiny')\n"
                "for s in range(0, 50, 10): inloop.log(s, {'train/loss': 2 - s / 100})\n"
                "inloop.checkpoint(60, '/tmp/ckpt-60.pt')\n"
                "print('enabled', inloop.enabled())\n")
        p = subprocess.Popen([sys.executable, "-c", code], env=env, pass_fds=(w,),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            data = f.read()
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode().strip(), "enabled True")
        got = [strict_loads(l) for l in data.decode().splitlines()]
        self.assertEqual([g["t"] for g in got], ["params"] + ["log"] * 5 + ["checkpoint"])
        self.assertEqual([g["step"] for g in got[1:6]], [0, 10, 20, 30, 40])


class NotConnectedTest(EnvMixin, unittest.TestCase):
    def setUp(self):
        self.save_env()

    def tearDown(self):
        self.restore_env()

    def test_noop(self):
        il = fresh_inloop()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            self.assertFalse(il.enabled())
            il.log(1, {"loss": 1.0})
            il.log(2, loss=float("nan"), name="x")
            il.params(lr=1)
            il.checkpoint(3, "x.pt")
        self.assertEqual(out.getvalue(), "")
        self.assertEqual(err.getvalue(), "")
        self.assertEqual(il.control(), {})
        self.assertEqual(il.run_info(), {})

    def test_print_env(self):
        os.environ["INLOOP_PRINT"] = "1"
        il = fresh_inloop()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            il.log(10, {"train/loss": 2.31, "lr": 0.0003})
            il.log(None, {"x": float("nan")})
        self.assertEqual(out.getvalue(),
                         "step 10 | train/loss 2.31 | lr 0.0003\nx NaN\n")

    def test_print_init(self):
        il = fresh_inloop()
        il.init(print=True)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            il.log(5, loss=1.25)
        self.assertEqual(out.getvalue(), "step 5 | loss 1.25\n")

    def test_bad_fd_env(self):
        os.environ["INLOOP_METRICS_FD"] = "987"  # not open in this process
        il = fresh_inloop()
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertFalse(il.enabled())
            il.log(1, {"loss": 1.0})
        self.assertEqual(err.getvalue().count("inloop:"), 1, err.getvalue())

    def test_control(self):
        il = fresh_inloop()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "control.json")
            os.environ["INLOOP_CONTROL"] = path
            self.assertEqual(il.control(), {})           # set but not there yet
            with open(path, "w") as f:
                json.dump({"resume_from": "/ck/ckpt-0000040.pt", "skip": [40, 60]}, f)
            self.assertEqual(il.control(), {"resume_from": "/ck/ckpt-0000040.pt",
                                            "skip": [40, 60]})
            with open(path, "w") as f:
                f.write("{not json")
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(il.control(), {})
                self.assertEqual(il.control(), {})
            self.assertEqual(err.getvalue().count("inloop:"), 1, err.getvalue())
            with open(path, "w") as f:
                json.dump({"attempt": 3, "action": "rollback_skip", "skip": [40, 60]}, f)
            self.assertEqual(il.control()["action"], "rollback_skip")  # raw dict, all keys


class RemediesTest(EnvMixin, unittest.TestCase):
    """remedies(): control file > environment, defaults, malformed values ignored with one
    warning, never raising."""

    def setUp(self):
        self.save_env()
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "control.json")
        os.environ["INLOOP_CONTROL"] = self.path
        self.il = fresh_inloop()

    def tearDown(self):
        self.tmp.cleanup()
        self.restore_env()

    def write(self, obj):
        # as the supervisor does: a temp file renamed over the control file
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            if isinstance(obj, str):
                f.write(obj)
            else:
                json.dump(obj, f)
        os.replace(tmp, self.path)

    def remedies(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            r = self.il.remedies()
        return r, err.getvalue()

    DEFAULTS = {"resume_from": None, "skip_windows": [], "lr_scale": None, "micro_batch": None,
                "attempt": 1}

    def test_defaults(self):
        r, err = self.remedies()                       # control file named but not there
        self.assertEqual(r, self.DEFAULTS)
        self.assertEqual(err, "")
        del os.environ["INLOOP_CONTROL"]
        self.assertEqual(self.remedies(), (self.DEFAULTS, ""))

    def test_environment(self):
        os.environ.update({"INLOOP_RESUME_FROM": "/ck/ckpt-0000040.pt",
                           "INLOOP_SKIP": "40:60, 70:75", "INLOOP_LR_SCALE": "0.5",
                           "INLOOP_MICRO_BATCH": "4", "INLOOP_ATTEMPT": "3"})
        r, err = self.remedies()
        self.assertEqual(r, {"resume_from": "/ck/ckpt-0000040.pt",
                             "skip_windows": [(40, 60), (70, 75)], "lr_scale": 0.5,
                             "micro_batch": 4, "attempt": 3})
        self.assertEqual(err, "")
        os.environ["INLOOP_SKIP"] = "40:60"
        self.assertEqual(self.remedies()[0]["skip_windows"], [(40, 60)])

    def test_control_file_wins_over_environment(self):
        os.environ.update({"INLOOP_RESUME_FROM": "/env.pt", "INLOOP_SKIP": "1:2",
                           "INLOOP_LR_SCALE": "0.5", "INLOOP_MICRO_BATCH": "4",
                           "INLOOP_ATTEMPT": "2"})
        self.write({"attempt": 3, "action": "rollback_skip", "resume_from": "/ctl.pt",
                    "resume_step": 40, "skip_windows": [[40, 60], [70, 90]], "skip": [70, 90],
                    "lr_scale": 0.25, "micro_batch": 2})
        r, err = self.remedies()
        self.assertEqual(r, {"resume_from": "/ctl.pt", "skip_windows": [(40, 60), (70, 90)],
                             "lr_scale": 0.25, "micro_batch": 2, "attempt": 3})
        self.assertEqual(err, "")
        # null or missing keys fall through to the environment
        self.write({"attempt": 3, "resume_from": None, "lr_scale": None, "micro_batch": None})
        r, _ = self.remedies()
        self.assertEqual(r, {"resume_from": "/env.pt", "skip_windows": [(1, 2)],
                             "lr_scale": 0.5, "micro_batch": 4, "attempt": 3})
        # read fresh on every call
        self.write({"lr_scale": 2})
        self.assertEqual(self.remedies()[0]["lr_scale"], 2.0)

    def test_skip_keys(self):
        os.environ["INLOOP_SKIP"] = "1:2"
        self.write({"skip": [40, 60]})                   # only the simple key
        self.assertEqual(self.remedies()[0]["skip_windows"], [(40, 60)])
        self.write({"skip": "40:60"})
        self.assertEqual(self.remedies()[0]["skip_windows"], [(40, 60)])
        self.write({"skip_windows": [[5, 10], [12, 14]], "skip": [12, 14]})
        self.assertEqual(self.remedies()[0]["skip_windows"], [(5, 10), (12, 14)])
        self.write({"skip_windows": [], "skip": None})   # explicitly none: the file wins
        self.assertEqual(self.remedies()[0]["skip_windows"], [])
        self.write({"skip_windows": None})
        self.assertEqual(self.remedies()[0]["skip_windows"], [(1, 2)])

    def test_malformed_values_ignored_with_one_warning(self):
        os.environ.update({"INLOOP_LR_SCALE": "0.5", "INLOOP_MICRO_BATCH": "many",
                           "INLOOP_ATTEMPT": "first", "INLOOP_SKIP": "9:3,bad,7:9,1:2:3,4:x"})
        self.write({"lr_scale": "fast", "micro_batch": 2.5, "attempt": True, "resume_from": 7,
                    "skip": [10, 5]})
        r, err = self.remedies()
        # lr_scale and the windows fall through to the env (only its good window is kept);
        # the rest has no usable value anywhere
        self.assertEqual(r, {"resume_from": None, "skip_windows": [(7, 9)], "lr_scale": 0.5,
                             "micro_batch": None, "attempt": 1})
        for needle in ("'lr_scale'", "'micro_batch'", "'attempt'", "'resume_from'",
                       "INLOOP_MICRO_BATCH", "INLOOP_ATTEMPT", "[10, 5]"):
            self.assertEqual(err.count(needle), 1, (needle, err))
        r2, err2 = self.remedies()                       # same input: no second warning
        self.assertEqual(r2, r)
        self.assertEqual(err2, "")
        self.assertIn("'bad'", err)
        self.assertIn("'9:3'", err)
        self.assertIn("'1:2:3'", err)
        # windows with T <= S dropped from the control file's list too
        self.write({"skip_windows": [[5, 10], [8, 8], [20, 10], "x", [1], [30, 31]]})
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(self.il.remedies()["skip_windows"], [(5, 10), (30, 31)])
        self.write({"skip_windows": "40:60"})            # not a list: ignored, falls through
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(self.il.remedies()["skip_windows"], [(7, 9)])
        for bad in ({"lr_scale": -1}, {"lr_scale": float("nan")}, {"micro_batch": 0},
                    {"attempt": 0}, {"micro_batch": [4]}):
            self.write(bad)
            with contextlib.redirect_stderr(io.StringIO()):
                r = self.il.remedies()
            key = next(iter(bad))
            self.assertEqual(r[key], {"lr_scale": 0.5}.get(key, self.DEFAULTS[key]), bad)

    def test_bad_json_counts_as_empty(self):
        os.environ.update({"INLOOP_RESUME_FROM": "auto", "INLOOP_ATTEMPT": "2"})
        for text in ("{not json", "[1, 2]", ""):
            self.write(text)
            r, _ = self.remedies()
            self.assertEqual(r, dict(self.DEFAULTS, resume_from="auto", attempt=2), text)
        self.il = fresh_inloop()
        self.write("{not json")
        r, err = self.remedies()
        self.assertEqual(err.count("inloop:"), 1, err)
        self.assertEqual(self.remedies()[1], "")         # warned once only
        self.write('{"micro_batch": 4.0, "attempt": "5"}')  # integral float, numeric string
        self.assertEqual(self.remedies()[0]["micro_batch"], 4)
        self.assertEqual(self.remedies()[0]["attempt"], 5)


class SkipTest(EnvMixin, unittest.TestCase):
    """data_index() and skip_data(): the data batch a step trains on under skip windows."""

    def setUp(self):
        self.save_env()
        self.il = fresh_inloop()

    def tearDown(self):
        self.restore_env()

    def test_data_index(self):
        di = self.il.data_index
        self.assertEqual([di(k, []) for k in (1, 5, 9)], [1, 5, 9])
        w = [(5, 10)]
        self.assertEqual([di(k, w) for k in (4, 5, 6, 20)], [4, 10, 11, 25])
        # a second window, in steps of the already-skipped timeline
        w2 = [(5, 10), (12, 14)]
        self.assertEqual([di(k, w2) for k in (4, 5, 11, 12, 13)], [4, 10, 16, 19, 20])
        self.assertEqual(di(12, [[5, 10], [12, 14]]), 19)   # lists work like tuples
        self.assertEqual(di(12, [(5, 10), (9, 9), (13, 12)]), 17)  # empty windows ignored
        # strictly increasing: every step gets its own batch
        idx = [di(k, w2) for k in range(1, 40)]
        self.assertEqual(idx, sorted(set(idx)))

    def loader(self, first=1, n=40):
        return ("batch%d" % i for i in range(first, first + n))

    def test_skip_data_no_window(self):
        got = list(self.il.skip_data(self.loader(n=5), start_step=1, windows=[]))
        self.assertEqual(got, [(1, "batch1"), (2, "batch2"), (3, "batch3"), (4, "batch4"),
                               (5, "batch5")])

    def test_skip_data_one_window(self):
        got = dict(self.il.skip_data(self.loader(n=20), start_step=1, windows=[(5, 10)]))
        self.assertEqual([got[k] for k in (4, 5, 6)], ["batch4", "batch10", "batch11"])
        self.assertEqual(max(got), 15)     # ends when the loader does (batch20 is step 15)
        self.assertNotIn("batch7", got.values())

    def test_skip_data_two_windows(self):
        w = [(5, 10), (12, 14)]
        got = list(self.il.skip_data(self.loader(n=30), 1, w))
        for step, item in got:
            self.assertEqual(item, "batch%d" % self.il.data_index(step, w))
        self.assertEqual(dict(got)[12], "batch19")
        self.assertEqual([s for s, _ in got], list(range(1, len(got) + 1)))

    def test_skip_data_resumed(self):
        w = [(5, 10), (12, 14)]
        # a loader positioned for the resumed step (the default first_index)
        start = 11
        got = list(itertools.islice(
            self.il.skip_data(self.loader(first=self.il.data_index(start, w)), start, w), 4))
        self.assertEqual(got, [(11, "batch16"), (12, "batch19"), (13, "batch20"),
                               (14, "batch21")])
        # a loader that starts from the beginning of the data: first_index says so
        got = list(itertools.islice(self.il.skip_data(self.loader(first=1), start, w,
                                                      first_index=1), 2))
        self.assertEqual(got, [(11, "batch16"), (12, "batch19")])
        # an infinite loader is consumed lazily
        it = self.il.skip_data(itertools.count(), 3, [(5, 10)], first_index=0)
        self.assertEqual(list(itertools.islice(it, 4)), [(3, 3), (4, 4), (5, 10), (6, 11)])

    def test_skip_data_loader_ahead_of_start(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            got = list(itertools.islice(self.il.skip_data(self.loader(first=8), 1, [],
                                                          first_index=8), 2))
        self.assertEqual(got, [(8, "batch8"), (9, "batch9")])
        self.assertEqual(err.getvalue().count("inloop:"), 1)

    def test_skip_data_windows_from_remedies(self):
        os.environ["INLOOP_SKIP"] = "2:4,5:6"
        w = self.il.remedies()["skip_windows"]
        self.assertEqual(w, [(2, 4), (5, 6)])
        gen = self.il.skip_data(self.loader(n=10), start_step=1)
        os.environ["INLOOP_SKIP"] = "1:9"        # read when called, not when iterated
        got = dict(gen)
        self.assertEqual(got, {k: "batch%d" % self.il.data_index(k, w) for k in got})
        self.assertEqual(got[2], "batch4")
        self.assertEqual(got[5], "batch8")


if __name__ == "__main__":
    unittest.main()
