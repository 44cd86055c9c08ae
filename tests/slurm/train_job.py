# A stdlib training stand-in for the Slurm test: logs a loss per step through the SDK, checkpoints
# (a JSON file announced with inloop.checkpoint), resumes from INLOOP_RESUME_FROM, and fails once
# in its first attempt: `crash` dies with an Xid line at step 7, `usr1` waits at step 7 for
# SIGUSR1, then saves and exits as PyTorch Lightning's SLURM handler does.
import json
import os
import signal
import sys
import time

import inloop

ckpt_dir, total, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(ckpt_dir, exist_ok=True)
resume = os.environ.get("INLOOP_RESUME_FROM")
start = 0
if resume:
    with open(resume) as f:
        start = json.load(f)["step"]
attempt = int(os.environ.get("INLOOP_ATTEMPT", "1"))
print(f"attempt {attempt} resume_from={resume} start={start}", flush=True)
if attempt > 1 and not resume:
    # A requeued attempt must be told where to resume: end it now instead of waiting at step 7.
    print("requeued attempt without INLOOP_RESUME_FROM", flush=True)
    sys.exit(4)

got_usr1 = False


def on_usr1(signum, frame):
    global got_usr1
    got_usr1 = True


signal.signal(signal.SIGUSR1, on_usr1)


def save(step):
    path = os.path.join(ckpt_dir, f"ckpt-{step}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"step": step}, f)
    os.replace(path + ".tmp", path)
    inloop.checkpoint(path, step)


for step in range(start + 1, total + 1):
    inloop.log(step, loss=1.0 / step)
    if step == 5:
        save(step)
    if step == 7 and not resume:
        if mode == "crash":
            print("NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.", file=sys.stderr,
                  flush=True)
            sys.exit(1)
        if mode == "usr1":
            print("waiting for USR1", flush=True)
            deadline = time.monotonic() + 60
            while not got_usr1 and time.monotonic() < deadline:
                time.sleep(0.05)
            if got_usr1:
                print("USR1 received: saving", flush=True)
                save(step)
                sys.exit(0)
            print("no USR1 came", flush=True)
            sys.exit(3)
    time.sleep(0.01)
print("finished", flush=True)
