#!/usr/bin/env python3
"""The doctor's scenario bench (issue 15): whole supervised runs, one fault each, against what a
careful engineer would have done.

Each scenario runs bench/doctor/workload.py (a stdlib training stand-in that prints like nanoGPT,
Megatron, HF Trainer, Keras or JSONL, and checkpoints through the SDK, as files found by glob, or
not at all) under `inloop run --policy auto`, then reads the run's timeline and compares:
  - the actions applied with the expected ones (correct-action rate, target 100%),
  - remedies on clean runs (false remedies, target 0),
  - throughput findings on a clean run under CPU contention (target <= 2),
  - the final loss against the same workload's clean run (within 10% where a checkpoint exists),
  - the exit code, and ETTR where `inloop show --json` reports it.

Usage: scenarios.py INLOOP_BIN [--quick] [--only NAME,...] [--json OUT] [--keep]
Prints a table; exits 1 when any scenario's actions or exit code differ from the expectation.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "workload.py")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

BASE_TOML = """
[detect]
hang_floor_seconds = 6
hang_startup_seconds = 5
[remedy]
backoff_initial_seconds = 0.2
micro_batch = 8
micro_batch_args = ["--micro-batch", "{micro_batch}"]
"""
GLOB_TOML = """
checkpoint_glob = "ck/ckpt-*.json"
checkpoint_settle_seconds = 0.2
checkpoint_args = ["--resume", "{checkpoint}"]
skip_args = ["--skip-from", "{skip_from}", "--skip-to", "{skip_to}"]
"""


def S(name, style="jsonl", ckpt="sdk", inject="", actions=(), exit_code=0, quick=False,
      contention=False, steps=300, max_tp_findings=None, min_tp_findings=0):
    return dict(name=name, style=style, ckpt=ckpt, inject=inject, actions=list(actions),
                exit_code=exit_code, quick=quick, contention=contention, steps=steps,
                max_tp_findings=max_tp_findings, min_tp_findings=min_tp_findings)


SCENARIOS = [
    # Clean runs of every style: no remedy at all.
    S("clean-jsonl", quick=True),
    S("clean-nanogpt", style="nanogpt"),
    S("clean-megatron", style="megatron", ckpt="glob"),
    S("clean-hf", style="hf"),
    S("clean-keras", style="keras", ckpt="none"),
    S("clean-contention", contention=True, max_tp_findings=2),
    # Loss anomalies caused by data.
    S("blip-sdk", inject="blip@120", quick=True),
    S("nan-sdk", inject="nan@120", actions=["rollback_skip"], quick=True),
    S("nan-glob-nanogpt", style="nanogpt", ckpt="glob", inject="nan@120", actions=["rollback_skip"]),
    S("nan-hf-sdk", style="hf", inject="nan@120", actions=["rollback_skip"], quick=True),
    S("nan-none", ckpt="none", inject="nan@120", actions=["stop"], exit_code=9, quick=True),
    S("spike-sdk", inject="spike@120", actions=["rollback_skip"]),
    S("spike-megatron-glob", style="megatron", ckpt="glob", inject="spike@120",
      actions=["rollback_skip"]),
    S("spike-none", ckpt="none", inject="spike@120", quick=True),
    S("diverge-sdk", inject="diverge@160", actions=["rollback_skip"]),
    S("nan-early-sdk", inject="nan@20", actions=["stop"], exit_code=9),
    S("nan-after-ckpt-sdk", inject="nan@101", actions=["rollback_skip"]),
    # Process failures: the data did not cause them.
    S("crash-sdk", inject="crash@120", actions=["resume"], quick=True),
    S("crash-none", ckpt="none", inject="crash@120", actions=["resume"]),
    S("hang-sdk", inject="hang@120", actions=["resume"]),
    S("oom-sdk", inject="oom@120", actions=["shrink_batch"]),
    S("slow-sdk", inject="slow@120", min_tp_findings=1),
]


def run(cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kw)


def loss_series(show):
    keys = [s["key"] for s in show.get("series", [])]
    for want in ("loss", "train/loss", "lm loss", "lm_loss"):
        if want in keys:
            return want
    cands = [k for k in keys if "loss" in k and "val" not in k and "eval" not in k]
    return cands[0] if cands else None


def run_scenario(inloop, sc, root, keep):
    d = tempfile.mkdtemp(prefix=sc["name"] + "-", dir=root)
    with open(os.path.join(d, "inloop.toml"), "w") as f:
        f.write(BASE_TOML + (GLOB_TOML if sc["ckpt"] == "glob" else ""))
    argv = [inloop, "run", "--store", "store", "--name", sc["name"], "--policy", "auto", "--",
            PY, WORKLOAD, "--style", sc["style"], "--ckpt", sc["ckpt"], "--steps", str(sc["steps"]),
            "--out", "ck"]
    if sc["inject"]:
        argv += ["--inject", sc["inject"]]
    hogs = []
    if sc["contention"]:
        hogs = [subprocess.Popen([PY, "-c", "while True: pass"]) for _ in range(2)]
    t0 = time.monotonic()
    try:
        p = run(argv, d, timeout=600)
        code = p.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    wall = time.monotonic() - t0
    show = json.loads(run([inloop, "show", sc["name"], "--store", "store", "--json"], d).stdout or "{}")
    events = json.loads(run([inloop, "events", sc["name"], "--store", "store", "--json"], d).stdout or "[]")
    applied = [e["data"].get("action") for e in events if e["kind"] == "action_applied"]
    stop_events = [e for e in events if e["kind"] in ("run_stopped", "action_applied")
                   and (e.get("data") or {}).get("action") == "stop"]
    if code == 9 and "stop" not in applied and not stop_events:
        applied.append("stop")  # a stop decided at once may be recorded as the run's outcome only
    tp = [e for e in events if e["kind"] == "throughput_regression" and not (e.get("data") or {}).get("update")]
    key = loss_series(show)
    final = None
    for s in show.get("series", []):
        if s["key"] == key:
            final = s.get("last")
    ettr = (show.get("goodput") or {}).get("ettr")
    res = dict(name=sc["name"], style=sc["style"], ckpt=sc["ckpt"], inject=sc["inject"] or "-",
               expected=sc["actions"], actual=applied, exit_code=code, expected_exit=sc["exit_code"],
               tp_findings=len(tp), final_loss=final, ettr=ettr, wall_s=round(wall, 1), dir=d)
    ok = applied == sc["actions"] and code == sc["exit_code"]
    if sc["max_tp_findings"] is not None and len(tp) > sc["max_tp_findings"]:
        ok = False
    if len(tp) < sc["min_tp_findings"]:
        ok = False
    res["ok"] = ok
    if ok and not keep:
        shutil.rmtree(d, ignore_errors=True)
    return res


def fmt(v, spec="{:.4f}"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return spec.format(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inloop")
    ap.add_argument("--quick", action="store_true", help="the subset ./test.sh runs")
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    inloop = os.path.abspath(a.inloop)
    chosen = [s for s in SCENARIOS if (not a.quick or s["quick"])]
    if a.only:
        names = set(a.only.split(","))
        chosen = [s for s in SCENARIOS if s["name"] in names]
    root = tempfile.mkdtemp(prefix="inloop-doctor-")
    results = []
    clean_final = {}
    for sc in chosen:
        r = run_scenario(inloop, sc, root, a.keep)
        results.append(r)
        if sc["name"].startswith("clean-") and not sc["contention"]:
            clean_final[(sc["style"])] = r["final_loss"]
        mark = "ok " if r["ok"] else "BAD"
        print(f"{mark} {r['name']:<22} expected {r['expected']!s:<20} got {r['actual']!s:<28} "
              f"exit {r['exit_code']} tp {r['tp_findings']} final {fmt(r['final_loss'])} "
              f"ettr {fmt(r['ettr'], '{:.3f}')} {r['wall_s']}s", flush=True)
    # The final loss against a clean run of the same style, where the run had a checkpoint and
    # finished.
    within = total = 0
    for r in results:
        clean = clean_final.get(r["style"])
        if r["inject"] == "-" or r["ckpt"] == "none" or clean is None or r["final_loss"] is None:
            continue
        if r["exit_code"] != 0:
            continue
        total += 1
        r["within_10pct"] = abs(r["final_loss"] - clean) <= 0.1 * clean
        within += r["within_10pct"]
    correct = sum(r["ok"] for r in results)
    clean_runs = [r for r in results if r["name"].startswith("clean-")]
    false_remedies = sum(bool(r["actual"]) for r in clean_runs)
    print(f"\ncorrect actions {correct}/{len(results)}; false remedies on clean runs "
          f"{false_remedies}/{len(clean_runs)}; final loss within 10% of clean {within}/{total}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if correct == len(results):
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"failed scenarios kept under {root}")
    return 0 if correct == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
