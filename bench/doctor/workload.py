#!/usr/bin/env python3
"""A small stdlib training stand-in for the doctor's scenario bench (bench/doctor/scenarios.py).

It prints its metrics the way a real framework does (--style), saves checkpoints (--ckpt: through
the SDK, as files found by [remedy] checkpoint_glob, or none), and can carry one fault (--inject
KIND@STEP). Faults caused by data are tied to a data index, as in real training: a plain resume
meets the bad batch again, a rollback that skips its window does not.

  nan@S      the batch at data index S makes the loss NaN from there on
  spike@S    the batch at S is a bad update: the loss jumps x4 and stays up (decays over ~60 steps)
  blip@S     one noisy batch: the loss at S alone is x4, the next step is normal again
  diverge@S  from data index S the loss grows 3% a step (sustained divergence)
  crash@S    first attempt only: a segfault-style abort at step S
  hang@S     first attempt only: sleeps forever at step S
  oom@S      a CUDA out-of-memory error at step S while --micro-batch is above 4
  slow@S     steps S..S+24 take 8x longer (a slow node), nothing else changes

The loss curve is 2.0*exp(-step/150) + 0.5 + 0.02*noise(data index): smooth, with a realistic
point-to-point jitter, so that the doctor is judged on what it would see in a real run.
"""
import argparse
import json
import math
import os
import random
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--style", default="jsonl", choices=["nanogpt", "megatron", "hf", "keras", "jsonl"])
p.add_argument("--ckpt", default="sdk", choices=["sdk", "glob", "none"])
p.add_argument("--steps", type=int, default=300)
p.add_argument("--ckpt-every", type=int, default=50)
p.add_argument("--log-every", type=int, default=1)
p.add_argument("--step-seconds", type=float, default=0.01)
p.add_argument("--inject", default="")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--out", default="ck")
p.add_argument("--resume", default="")
p.add_argument("--skip-from", type=int, default=None)
p.add_argument("--skip-to", type=int, default=None)
p.add_argument("--lr-scale", type=float, default=1.0)
p.add_argument("--micro-batch", type=int, default=8)
a = p.parse_args()

sdk = None
if a.ckpt == "sdk" or os.environ.get("INLOOP_WORKLOAD_SDK_REMEDIES"):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import inloop as sdk  # noqa: E402

kind, at = "", -1
if a.inject:
    kind, at = a.inject.split("@")
    at = int(at)
attempt = int(os.environ.get("INLOOP_ATTEMPT", "1"))

# Where this attempt starts, and which data windows it skips.
resume_from, windows, lr_scale = a.resume or None, [], a.lr_scale
if sdk is not None and a.ckpt == "sdk":
    r = sdk.remedies()
    resume_from = r["resume_from"] or resume_from
    windows = [tuple(w) for w in r["skip_windows"]]
    lr_scale = r["lr_scale"] or lr_scale
if a.skip_from is not None and a.skip_to is not None and a.skip_to > a.skip_from:
    windows.append((a.skip_from, a.skip_to))
start = 1
state = {"ema": None, "bad": None}
if resume_from:
    with open(resume_from) as f:
        ck = json.load(f)
    start = ck["step"] + 1
    state = ck["state"]


def data_index(step):
    k = step
    for s, t in reversed(windows):
        if k >= s:
            k += t - s
    return k


def noise(i):
    return random.Random(a.seed * 1000003 + i).gauss(0.0, 1.0)


def write_ckpt(step):
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "ckpt-%06d.json" % step)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"step": step, "state": state}, f)
    os.replace(tmp, path)
    if sdk is not None and a.ckpt == "sdk":
        sdk.checkpoint(path, step)


def emit(step, loss, ms):
    if a.style == "nanogpt":
        print("iter %d: loss %.4f, time %.2fms, mfu 12.34%%" % (step, loss, ms))
    elif a.style == "megatron":
        print(" iteration %8d/%8d | consumed samples: %12d | elapsed time per iteration (ms): %.1f"
              " | learning rate: %.3E | global batch size: 8 | lm loss: %.6E | loss scale: 1.0 |"
              " grad norm: %.3f | number of skipped iterations: 0 |"
              % (step, a.steps, step * 8, ms, 3e-4 * lr_scale, loss, 1.0 + 0.1 * abs(noise(step))))
    elif a.style == "hf":
        print(str({"loss": round(loss, 4), "grad_norm": round(1.0 + 0.1 * abs(noise(step)), 4),
                   "learning_rate": 5e-05 * lr_scale, "epoch": round(step / a.steps, 4)}))
    elif a.style == "keras":
        print("%d/%d - %dms/step - loss: %.4f" % (step, a.steps, int(ms), loss))
    else:
        print(json.dumps({"step": step, "loss": loss, "ms_per_step": round(ms, 3)}))
    sys.stdout.flush()


bad_since = state.get("bad")
for step in range(start, a.steps + 1):
    t0 = time.monotonic()
    d = data_index(step)
    if kind in ("crash", "hang") and step == at and attempt == 1 or kind == "oom" and step == at:
        if kind == "crash":
            sys.stderr.write("Fatal Python error: Segmentation fault\n\nCurrent thread:\n"
                             '  File "train.py", line 88 in forward\n')
            sys.stderr.flush()
            os.kill(os.getpid(), 11)
        if kind == "hang":
            while True:
                time.sleep(3600)
        if kind == "oom" and a.micro_batch > 4:  # fits once the batch is halved
            sys.stderr.write("Traceback (most recent call last):\n  File \"train.py\", line 90\n"
                             "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate "
                             "2.00 GiB (GPU 0; 79.15 GiB total capacity)\n")
            sys.exit(1)
    loss = 2.0 * math.exp(-step / 150.0) + 0.5 + 0.02 * noise(d)
    if kind in ("nan", "spike", "diverge") and d == at:
        bad_since = step  # the bad batch is trained on: its damage persists from here
    state["bad"] = bad_since
    if bad_since is not None:
        if kind == "nan":
            loss = float("nan")
        elif kind == "spike":
            loss *= 1.0 + 3.0 * math.exp(-(step - bad_since) / 60.0)
        elif kind == "diverge":
            loss *= 1.03 ** (step - bad_since)
    if kind == "blip" and d == at:
        loss *= 4.0
    delay = a.step_seconds * (8.0 if kind == "slow" and at <= step < at + 25 else 1.0)
    time.sleep(delay)
    if step % a.log_every == 0:
        emit(step, loss, (time.monotonic() - t0) * 1000.0)
    # Saved whatever the loss (real loops do): telling a bad checkpoint from a good one is the
    # doctor's job.
    if a.ckpt != "none" and step % a.ckpt_every == 0:
        write_ckpt(step)
print("done: %d steps" % a.steps, file=sys.stderr)
