# Tests of the example workload examples/charlm/train.py: short runs write checkpoints and lower
# the loss, resume continues at the right step with the same numbers, the skip window and the
# lr-scale / micro-batch remedies are honoured, and the injected faults look like the real thing.
# Skipped when torch is not importable. Run with the Debian interpreter: /usr/bin/python3.
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(REPO, "examples", "charlm", "train.py")

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except Exception:
    HAVE_TORCH = False

# A tiny model so that a step takes a few ms (the defaults are sized for a ~1 minute demo).
FAST = ["--eval-batches", "2", "--warmup", "5", "--n-embd", "32", "--n-layer", "1",
        "--batch-size", "8", "--seq-len", "32", "--threads", "1"]
ENV_DROP = ("INLOOP_METRICS_FD", "INLOOP_RESUME_FROM", "INLOOP_LR_SCALE", "INLOOP_SKIP",
            "INLOOP_MICRO_BATCH", "INLOOP_CONTROL", "INLOOP_ATTEMPT", "INLOOP_PRINT")


def nan_aware(line):
    return json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


class Result:
    def __init__(self, rc, out, err, msgs):
        self.rc, self.out, self.err, self.msgs = rc, out, err, msgs

    def series(self, key):
        """[(step, value)] of one metric from the SDK lines."""
        return [(m.get("step"), m["metrics"][key]) for m in self.msgs
                if m["t"] == "log" and key in m["metrics"]]

    def of(self, t):
        return [m for m in self.msgs if m["t"] == t]


def run_train(args, env_extra=None, timeout=240):
    """Run train.py with an SDK pipe, as `inloop run` would; return stdout, stderr, messages."""
    r, w = os.pipe()
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    env["INLOOP_METRICS_FD"] = str(w)
    env.update(env_extra or {})
    chunks = []

    def drain():
        while True:
            b = os.read(r, 65536)
            if not b:
                return
            chunks.append(b)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    p = subprocess.Popen([sys.executable, TRAIN] + FAST + args, env=env, pass_fds=(w,),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(w)
    out, err = p.communicate(timeout=timeout)
    t.join(10)
    os.close(r)
    msgs = [nan_aware(l) for l in b"".join(chunks).decode().splitlines()]
    return Result(p.returncode, out, err, msgs)


def load_train_module():
    spec = importlib.util.spec_from_file_location("charlm_train", TRAIN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@unittest.skipUnless(HAVE_TORCH, "torch is not importable")
class CharLMTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "ck")

    def tearDown(self):
        self.tmp.cleanup()

    def ckpts(self):
        return sorted(n for n in os.listdir(self.out) if n.startswith("ckpt-"))

    def test_short_run_checkpoints_and_learns(self):
        r = run_train(["--steps", "30", "--ckpt-every", "5", "--eval-every", "10",
                       "--log-every", "5", "--out", self.out])
        self.assertEqual(r.rc, 0, r.err)
        # keep the last 3, atomically written (no temp files left)
        self.assertEqual(self.ckpts(), ["ckpt-0000020.pt", "ckpt-0000025.pt", "ckpt-0000030.pt"])
        announced = r.of("checkpoint")
        self.assertEqual([m["step"] for m in announced], [5, 10, 15, 20, 25, 30])
        self.assertEqual(announced[-1]["path"], os.path.join(os.path.abspath(self.out),
                                                             "ckpt-0000030.pt"))
        loss = dict(r.series("train/loss"))
        self.assertEqual(sorted(loss), [1, 5, 10, 15, 20, 25, 30])
        self.assertLess(loss[30], loss[1] - 0.8)
        val = r.series("val/loss")
        self.assertEqual([s for s, _ in val], [0, 10, 20, 30])
        self.assertTrue(all(a > b for (_, a), (_, b) in zip(val, val[1:])), val)
        for key in ("lr", "grad_norm", "tokens_per_s", "step_time_ms"):
            self.assertEqual(len(r.series(key)), 7, key)
        params = {}
        for m in r.of("params"):
            params.update(m["params"])
        self.assertEqual(params["lr"], 3e-3)
        self.assertEqual(params["steps"], 30)
        self.assertIn("effective/micro_batch", params)
        self.assertIn("step 30 | loss ", r.out)
        self.assertRegex(r.out, r"done \| steps 30 \| final val_loss \d\.\d{4}")

    def test_resume_continues_at_next_step_with_same_numbers(self):
        base = ["--steps", "30", "--ckpt-every", "10", "--eval-every", "10", "--log-every", "1"]
        full = run_train(base + ["--out", self.out])
        self.assertEqual(full.rc, 0, full.err)
        ck20 = os.path.join(self.out, "ckpt-0000020.pt")
        res = run_train(base + ["--out", self.out, "--resume", ck20])
        self.assertEqual(res.rc, 0, res.err)
        self.assertIn("resumed from %s at step 20" % ck20, res.out)
        steps = [s for s, _ in res.series("train/loss")]
        self.assertEqual(steps[0], 21)
        self.assertEqual(steps[-1], 30)
        a, b = dict(full.series("train/loss")), dict(res.series("train/loss"))
        for s in range(21, 31):
            self.assertAlmostEqual(a[s], b[s], places=4, msg="step %d" % s)
        self.assertAlmostEqual(dict(full.series("val/loss"))[30],
                               dict(res.series("val/loss"))[30], places=4)
        # the environment form, pointing at the directory (its newest checkpoint: 30)
        env = run_train(base + ["--out", self.out], {"INLOOP_RESUME_FROM": self.out})
        self.assertEqual(env.rc, 0, env.err)
        self.assertIn("at step 30", env.out)
        self.assertEqual(env.series("train/loss"), [])

    def test_resume_drops_abandoned_future_checkpoints(self):
        base = ["--steps", "20", "--ckpt-every", "5", "--eval-every", "100", "--log-every", "5"]
        self.assertEqual(run_train(base + ["--out", self.out]).rc, 0)
        self.assertEqual(self.ckpts(), ["ckpt-0000010.pt", "ckpt-0000015.pt", "ckpt-0000020.pt"])
        r = run_train(["--steps", "12", "--ckpt-every", "100", "--eval-every", "100",
                       "--out", self.out, "--resume", os.path.join(self.out, "ckpt-0000010.pt")])
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(self.ckpts(), ["ckpt-0000010.pt", "ckpt-0000012.pt"])

    def test_data_index_skip_windows(self):
        m = load_train_module()
        sys.stderr, saved = open(os.devnull, "w"), sys.stderr  # parse_skip's warnings
        self.addCleanup(lambda: (sys.stderr.close(), setattr(sys, "stderr", saved)))
        self.assertEqual([m.data_index(k, []) for k in (1, 5, 9)], [1, 5, 9])
        w = [(5, 10)]
        self.assertEqual([m.data_index(k, w) for k in (4, 5, 6, 20)], [4, 10, 11, 25])
        # a second window, in steps of the already-skipped timeline
        w2 = [(5, 10), (12, 14)]
        self.assertEqual([m.data_index(k, w2) for k in (11, 12, 13)], [16, 19, 20])
        self.assertEqual(m.parse_skip("5:10"), (5, 10))
        self.assertEqual(m.parse_skip([5, 10]), (5, 10))
        self.assertIsNone(m.parse_skip("10:5"))

    def test_spike_and_skip_window(self):
        base = ["--steps", "12", "--log-every", "1", "--eval-every", "100", "--ckpt-every", "6",
                "--inject-spike-at", "9"]
        spiky = run_train(base + ["--out", self.out])
        self.assertEqual(spiky.rc, 0, spiky.err)
        loss, gn = dict(spiky.series("train/loss")), dict(spiky.series("grad_norm"))
        self.assertGreater(loss[9], 10 * loss[8])
        self.assertGreater(gn[9], 10 * gn[8])
        # rollback to step 6 and skip the data of steps [7, 11): the bad batch 9 is never seen
        ck6 = os.path.join(self.out, "ckpt-0000006.pt")
        skipped = run_train(base + ["--out", self.out], {"INLOOP_RESUME_FROM": ck6,
                                                         "INLOOP_SKIP": "7:11"})
        self.assertEqual(skipped.rc, 0, skipped.err)
        loss2 = dict(skipped.series("train/loss"))
        self.assertEqual(sorted(loss2), list(range(7, 13)))
        self.assertLess(max(loss2.values()), 2 * loss[8])
        # the window is stored in the checkpoint: a plain resume from 12 keeps it
        ck12 = os.path.join(self.out, "ckpt-0000012.pt")
        self.assertTrue(os.path.exists(ck12))
        again = run_train(base + ["--steps", "14", "--out", self.out, "--resume", ck12])
        self.assertIn("skip [(7, 11)]", again.out)

    def test_inject_nan(self):
        r = run_train(["--steps", "8", "--log-every", "1", "--eval-every", "100",
                       "--ckpt-every", "100", "--inject-nan-at", "5", "--out", self.out])
        self.assertEqual(r.rc, 0, r.err)
        loss = dict(r.series("train/loss"))
        self.assertIsInstance(loss[4], float)
        self.assertEqual(loss[5], "NaN")
        self.assertEqual(loss[8], "NaN")  # NaN weights from then on, as in a real divergence
        self.assertIn("step 5 | loss nan", r.out)

    def test_lr_scale_and_micro_batch(self):
        base = ["--steps", "8", "--log-every", "1", "--eval-every", "100", "--ckpt-every", "100"]
        ref = run_train(base + ["--out", self.out])
        scaled = run_train(base + ["--out", self.out + "2"],
                           {"INLOOP_LR_SCALE": "0.5", "INLOOP_MICRO_BATCH": "4"})
        self.assertEqual(scaled.rc, 0, scaled.err)
        lr_a, lr_b = dict(ref.series("lr")), dict(scaled.series("lr"))
        self.assertAlmostEqual(lr_b[8], lr_a[8] / 2, places=9)
        # the first step's loss does not depend on lr; micro-batches keep it (same data; only
        # dropout masks and bf16 rounding differ)
        self.assertAlmostEqual(dict(ref.series("train/loss"))[1],
                               dict(scaled.series("train/loss"))[1], delta=0.02)
        self.assertIn("micro-batch 4 of 8", scaled.out)
        # a flag wins over the environment
        flag = run_train(base + ["--steps", "2", "--out", self.out + "3", "--lr-scale", "2"],
                         {"INLOOP_LR_SCALE": "0.5"})
        self.assertIn("x 2,", flag.out)

    def test_crash_is_transient(self):
        base = ["--steps", "6", "--ckpt-every", "2", "--eval-every", "100", "--crash-at", "4",
                "--out", self.out]
        r = run_train(base)
        self.assertEqual(r.rc, 1)
        self.assertIn("RuntimeError: injected crash at step 4", r.err)
        self.assertIn("Traceback (most recent call last)", r.err)
        again = run_train(base, {"INLOOP_RESUME_FROM": "auto"})
        self.assertEqual(again.rc, 0, again.err)
        self.assertIn("at step 2", again.out)
        persist = run_train(base + ["--faults-persist", "--resume",
                                    os.path.join(self.out, "ckpt-0000002.pt")])
        self.assertEqual(persist.rc, 1)
        self.assertIn("RuntimeError: injected crash at step 4", persist.err)

    def test_oom_until_micro_batch_shrinks(self):
        base = ["--steps", "5", "--ckpt-every", "2", "--eval-every", "100", "--oom-at", "3",
                "--out", self.out]
        r = run_train(base)
        self.assertEqual(r.rc, 1)
        self.assertIn("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate "
                      "2.00 GiB", r.err)
        again = run_train(base + ["--resume", "auto"])
        self.assertEqual(again.rc, 1, "a plain resume hits the OOM again")
        shrunk = run_train(base + ["--resume", "auto"], {"INLOOP_MICRO_BATCH": "4"})
        self.assertEqual(shrunk.rc, 0, shrunk.err)
        self.assertIn("micro-batch 4 of 8", shrunk.out)

    def test_hang(self):
        env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
        p = subprocess.Popen([sys.executable, TRAIN] + FAST +
                             ["--steps", "5", "--hang-at", "2", "--eval-every", "100",
                              "--ckpt-every", "100", "--out", self.out],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            deadline = time.time() + 60
            seen = False
            while time.time() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                if "injected hang" in line:
                    seen = True
                    break
            self.assertTrue(seen)
            time.sleep(1.0)
            self.assertIsNone(p.poll(), "still running while hung")
        finally:
            p.kill()
            p.wait()
            p.stdout.close()


if __name__ == "__main__":
    unittest.main()
