# Tests of the example workload examples/charlm/train.py: short runs write checkpoints and lower
# the loss, resume continues at the right step with the same numbers, the skip windows (also
# several, from the environment or the control file) and the lr-scale / micro-batch remedies are
# honoured, and every injected fault (--inject nan|spike|crash|hang|oom|slow@K) is the real thing.
# Skipped when torch is not importable. Run with the Debian interpreter: /usr/bin/python3.
import importlib.util
import json
import os
import signal
import statistics
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

    def test_parse_inject(self):
        m = load_train_module()
        self.assertEqual(m.parse_inject(["nan@40,crash@90", "slow@5", "nan@7", " spike@3 "]),
                         {"nan": [7, 40], "crash": [90], "slow": [5], "spike": [3]})
        self.assertEqual(m.parse_inject([]), {})
        for bad in ("boom@3", "nan", "nan@x", "nan@0", "oom@-1"):
            with self.assertRaises(ValueError, msg=bad):
                m.parse_inject([bad])
        # train.py uses the SDK's skip arithmetic
        self.assertIs(m.inloop.data_index, sys.modules["inloop"].data_index)
        p = subprocess.run([sys.executable, TRAIN, "--inject", "boom@3", "--out", self.out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("KIND@STEP", p.stderr)
        p = subprocess.run([sys.executable, TRAIN, "--crash-at", "3"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2, "the old fault flags are gone")

    def test_clean_runs_are_deterministic(self):
        base = ["--steps", "6", "--log-every", "1", "--eval-every", "100", "--ckpt-every", "100"]
        a = run_train(base + ["--out", self.out])
        b = run_train(base + ["--out", self.out + "2"])
        self.assertEqual(a.rc, 0, a.err)
        self.assertEqual(a.series("train/loss"), b.series("train/loss"))
        self.assertEqual(len(a.series("train/loss")), 6)

    def test_spike_is_a_real_bad_update(self):
        # lr 1e-2: the tiny model learns fast enough by step 20 for a bad update to cost it
        base = ["--steps", "30", "--lr", "1e-2", "--log-every", "1", "--eval-every", "100",
                "--ckpt-every", "6"]
        clean = run_train(base + ["--out", self.out + "-clean"])
        spiky = run_train(base + ["--out", self.out, "--inject", "spike@20"])
        self.assertEqual(spiky.rc, 0, spiky.err)
        c, l = dict(clean.series("train/loss")), dict(spiky.series("train/loss"))
        for k in range(1, 20):
            self.assertEqual(c[k], l[k], "same run up to the fault (step %d)" % k)
        self.assertIn("injected spike at step 20", spiky.out)
        # the real loss of the corrupted batch, far above the clean one
        self.assertGreater(l[20], 1.5 * l[19])
        self.assertGreater(l[20], 1.5 * c[20])
        # the bad update damaged the weights: the next steps (same data as the clean run) are
        # worse than the clean run's
        self.assertGreater(l[21], c[21] + 0.3)
        self.assertGreater(sum(l[k] for k in (21, 22, 23)), sum(c[k] for k in (21, 22, 23)) + 1)
        # the lr series stays the schedule's
        self.assertEqual(dict(clean.series("lr"))[20], dict(spiky.series("lr"))[20])
        # rollback to 18 and skip the data of steps [19, 22): batch 20 is never seen (a plain
        # resume trains on it again, as test_nan_persists_on_plain_resume_and_skip_cures_it shows)
        ck18 = os.path.join(self.out, "ckpt-0000018.pt")
        skipped = run_train(base + ["--out", self.out, "--inject", "spike@20"],
                            {"INLOOP_RESUME_FROM": ck18, "INLOOP_SKIP": "19:22"})
        self.assertEqual(skipped.rc, 0, skipped.err)
        l2 = dict(skipped.series("train/loss"))
        self.assertEqual(sorted(l2), list(range(19, 31)))
        self.assertNotIn("injected spike", skipped.out)
        self.assertLess(max(l2.values()), 1.2 * l[19])
        # the window is stored in the checkpoint, so a later plain resume keeps it
        ck = load_train_module().load_ckpt(os.path.join(self.out, "ckpt-0000030.pt"))
        self.assertEqual(ck["skip_windows"], [(19, 22)])

    def test_nan_persists_on_plain_resume_and_skip_cures_it(self):
        base = ["--steps", "8", "--log-every", "1", "--eval-every", "100", "--ckpt-every", "3",
                "--inject", "nan@5", "--out", self.out]
        r = run_train(base)
        self.assertEqual(r.rc, 0, r.err)
        loss = dict(r.series("train/loss"))
        self.assertIsInstance(loss[4], float)
        self.assertEqual(loss[5], "NaN")
        self.assertEqual(loss[8], "NaN")  # NaN weights from then on, as in a real divergence
        self.assertIn("step 5 | loss nan", r.out)
        ck3 = os.path.join(self.out, "ckpt-0000003.pt")
        plain = run_train(base + ["--resume", ck3])
        self.assertEqual(plain.rc, 0, plain.err)
        self.assertEqual(dict(plain.series("train/loss"))[5], "NaN", "same bad batch again")
        skipped = run_train(base + ["--resume", ck3], {"INLOOP_SKIP": "4:6"})
        self.assertEqual(skipped.rc, 0, skipped.err)
        l2 = dict(skipped.series("train/loss"))
        self.assertEqual(sorted(l2), [4, 5, 6, 7, 8])
        self.assertTrue(all(isinstance(v, float) for v in l2.values()), l2)
        # --faults-persist: step 5 is NaN whatever data it trains on
        persist = run_train(base + ["--resume", ck3, "--faults-persist"], {"INLOOP_SKIP": "4:6"})
        self.assertEqual(persist.rc, 0, persist.err)
        l3 = dict(persist.series("train/loss"))
        self.assertIsInstance(l3[4], float)
        self.assertEqual(l3[5], "NaN")

    def effective(self, r):
        params = {}
        for m in r.of("params"):
            params.update(m["params"])
        return params["effective/skip_windows"]

    def test_several_skip_windows_from_env(self):
        base = ["--steps", "10", "--log-every", "1", "--eval-every", "100",
                "--ckpt-every", "100", "--out", self.out]
        two = {"INLOOP_SKIP": "4:6,9:11"}
        # windows [(4, 6), (9, 11)]: step 8 trains on data index 10, step 9 on 13; 11 and 12 are
        # never seen. A NaN batch tells which index a step trains on.
        r12 = run_train(base + ["--inject", "nan@12"], two)
        self.assertEqual(r12.rc, 0, r12.err)
        self.assertEqual(self.effective(r12), "[(4, 6), (9, 11)]")
        self.assertIn("skip [(4, 6), (9, 11)]", r12.out)
        self.assertTrue(all(isinstance(v, float) for _, v in r12.series("train/loss")))
        r13 = run_train(base + ["--inject", "nan@13"], two)
        l13 = dict(r13.series("train/loss"))
        self.assertIsInstance(l13[8], float)
        self.assertEqual(l13[9], "NaN")
        # a checkpoint holding the first window: the supervisor's new windows are appended
        first = run_train(["--steps", "8", "--ckpt-every", "8", "--eval-every", "100",
                           "--out", self.out + "-b"], {"INLOOP_SKIP": "4:6"})
        self.assertEqual(first.rc, 0, first.err)
        resumed = run_train(["--steps", "10", "--log-every", "1", "--eval-every", "100",
                             "--ckpt-every", "100", "--out", self.out + "-b", "--inject",
                             "nan@13"], dict(two, INLOOP_RESUME_FROM="auto"))
        self.assertEqual(self.effective(resumed), "[(4, 6), (9, 11)]")
        self.assertEqual(dict(resumed.series("train/loss"))[9], "NaN")

    def test_remedy_precedence(self):
        """flag > control file > environment, resolved in-process by train.py's resolve_remedies."""
        m = load_train_module()
        ctl = os.path.join(self.tmp.name, "control.json")
        with open(ctl, "w") as f:
            json.dump({"attempt": 2, "action": "rollback_skip", "resume_from": "/ctl.pt",
                       "skip_windows": [[3, 5], [7, 8]], "skip": [7, 8], "lr_scale": 0.25}, f)
        env = {"INLOOP_SKIP": "4:6,9:11", "INLOOP_CONTROL": ctl, "INLOOP_RESUME_FROM": "/env.pt",
               "INLOOP_LR_SCALE": "0.5", "INLOOP_MICRO_BATCH": "4", "INLOOP_ATTEMPT": "1"}
        saved = {k: os.environ.get(k) for k in ENV_DROP}

        def restore():
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.addCleanup(restore)
        for k in ENV_DROP:
            os.environ.pop(k, None)
        os.environ.update(env)
        self.assertEqual(m.resolve_remedies(m.parse_args([])),
                         ("/ctl.pt", 0.25, 4, [(3, 5), (7, 8)], 2))
        flags = m.parse_args(["--resume", "auto", "--lr-scale", "2", "--micro-batch", "2",
                              "--skip-from", "2", "--skip-to", "3"])
        self.assertEqual(m.resolve_remedies(flags), ("auto", 2.0, 2, [(2, 3)], 2))
        os.environ.pop("INLOOP_CONTROL")
        self.assertEqual(m.resolve_remedies(m.parse_args([])),
                         ("/env.pt", 0.5, 4, [(4, 6), (9, 11)], 1))

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

    def test_crash_is_a_real_segfault_and_transient(self):
        base = ["--steps", "6", "--ckpt-every", "2", "--eval-every", "100", "--inject", "crash@4",
                "--out", self.out]
        r = run_train(base)
        self.assertEqual(r.rc, -signal.SIGSEGV, r.err)
        self.assertEqual(r.rc, -11)
        self.assertIn("Fatal Python error: Segmentation fault", r.err)
        self.assertIn("crash_natively", r.err)    # faulthandler's Python stack
        self.assertEqual([m["step"] for m in r.of("checkpoint")], [2])
        again = run_train(base, {"INLOOP_RESUME_FROM": "auto"})
        self.assertEqual(again.rc, 0, again.err)
        self.assertIn("at step 2", again.out)
        later = run_train(base[:-1] + [self.out + "-b"], {"INLOOP_ATTEMPT": "2"})
        self.assertEqual(later.rc, 0, "not in a later attempt either: " + later.err)
        persist = run_train(base + ["--faults-persist", "--resume",
                                    os.path.join(self.out, "ckpt-0000002.pt")])
        self.assertEqual(persist.rc, -11)
        self.assertIn("Fatal Python error: Segmentation fault", persist.err)

    def test_oom_until_micro_batch_shrinks(self):
        base = ["--steps", "5", "--ckpt-every", "2", "--eval-every", "100", "--inject", "oom@3",
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

    def test_slow_steps_drop_throughput(self):
        # factor 8 so that the drop stands out even on a loaded machine
        r = run_train(["--steps", "18", "--log-every", "1", "--eval-every", "100",
                       "--ckpt-every", "100", "--out", self.out, "--inject", "slow@6",
                       "--slow-steps", "6", "--slow-factor", "8"])
        self.assertEqual(r.rc, 0, r.err)
        tps, ms = dict(r.series("tokens_per_s")), dict(r.series("step_time_ms"))
        slow = range(6, 12)
        normal = [2, 3, 4, 5] + list(range(12, 19))   # step 1 warms up
        self.assertLess(statistics.median(tps[k] for k in slow),
                        0.4 * statistics.median(tps[k] for k in normal), tps)
        self.assertGreater(statistics.median(ms[k] for k in slow),
                           2.5 * statistics.median(ms[k] for k in normal), ms)

    def test_hang(self):
        env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
        p = subprocess.Popen([sys.executable, TRAIN] + FAST +
                             ["--steps", "5", "--inject", "hang@2", "--eval-every", "100",
                              "--ckpt-every", "100", "--out", self.out],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            deadline = time.time() + 60
            seen = False
            while time.time() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                if "step 2 | (injected hang)" in line:
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
