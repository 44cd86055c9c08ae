# A two-rank job without torch for ranks_tcp_test.sh, where rank 1 plays a rank on another host.
#   ranks_tcp_job.py launch STEPS -- the launcher: first a stranger connects to the ranks' socket
#     with a wrong secret (attempt 1 only) and must be refused; then it starts rank 0 as torchrun
#     would (no inherited pipe: it finds the FIFO) and rank 1 as if on another node (no FIFO path,
#     INLOOP_RANKS_HOST names another host: it must report over TCP), and waits for both. With
#     INLOOP_TEST_NETNS=NS, rank 1 runs in that network namespace (ranks_netns_test.sh).
#   ranks_tcp_job.py rank STEPS -- one rank: the ranks step in lock-step (a file barrier, as an
#     all-reduce would), rank 1's loss turns NaN at step 12 on attempt 1 (and it waits there for
#     inloop to act), rank 0 checkpoints every 5 steps and every rank resumes from inloop's pick.
import json
import os
import socket
import subprocess
import sys
import time

MODE, STEPS = sys.argv[1], int(sys.argv[2])
NAN_STEP = 12
REMOTE = "node-remote-1"


def stranger():
    host, _, port = os.environ["INLOOP_RANKS_ADDR"].rpartition(":")
    s = socket.create_connection((host, int(port)), timeout=60)
    s.sendall(b"inloop-ranks/1 " + b"0" * 64 + b"\n"
              + b'{"t":"rank","rank":1,"world_size":2,"host":"stranger"}\n'
              + b'{"t":"log","rank":1,"step":3,"metrics":{"train/loss":"NaN"}}\n')
    try:
        closed = s.recv(1) == b""
    except ConnectionResetError:
        closed = True
    print("stranger: %s" % ("refused" if closed else "still connected"), flush=True)
    s.close()


def launch():
    if os.environ.get("INLOOP_ATTEMPT") == "1":
        stranger()
    procs = []
    for rank in (0, 1):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2")
        if rank == 1:
            env.pop("INLOOP_METRICS_PATH", None)
            env["INLOOP_RANKS_HOST"] = REMOTE + "-supervisor"  # not this host: use TCP
            env["SLURMD_NODENAME"] = REMOTE
        cmd = [sys.executable, __file__, "rank", str(STEPS)]
        if rank == 1 and os.environ.get("INLOOP_TEST_NETNS"):
            # ranks_netns_test.sh: rank 1 in a network namespace of its own, another host as far
            # as the network goes (its own interfaces, routes and loopback).
            cmd = ["ip", "netns", "exec", os.environ["INLOOP_TEST_NETNS"]] + cmd
        procs.append(subprocess.Popen(cmd, env=env))
    sys.exit(max(p.wait() for p in procs))


def barrier(rank, attempt, step):
    """Waits (60 s at most) until the other rank has finished step - 1."""
    with open("progress.%s.%d.tmp" % (attempt, rank), "w") as f:
        f.write(str(step - 1))
    os.replace("progress.%s.%d.tmp" % (attempt, rank), "progress.%s.%d" % (attempt, rank))
    other = "progress.%s.%d" % (attempt, 1 - rank)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with open(other) as f:
                if int(f.read() or -1) >= step - 1:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    sys.exit("rank %d: the other rank did not reach step %d" % (rank, step - 1))


def rank_main():
    import inloop

    rank = inloop.rank()
    r = inloop.remedies()
    attempt = r["attempt"]
    start = 1
    if r["resume_from"]:
        with open(r["resume_from"]) as f:
            start = json.load(f)["step"] + 1
        print("rank %d resumed from step %d" % (rank, start - 1), flush=True)
    os.makedirs("ckpt", exist_ok=True)
    for step in range(start, STEPS + 1):
        barrier(rank, attempt, step)
        with inloop.timed():
            loss = 2.0 / (1 + 0.05 * step)
            if rank == 1 and step == NAN_STEP and attempt == 1:
                loss = float("nan")
        inloop.log(step, {"train/loss": loss})
        if loss != loss:
            time.sleep(60)  # inloop acts on the NaN (a rollback ends this attempt) long before
            sys.exit("rank 1: nothing acted on the NaN")
        if rank == 0 and step % 5 == 0:
            path = os.path.abspath("ckpt/step-%d.json" % step)
            with open(path + ".tmp", "w") as f:
                json.dump({"step": step}, f)
            os.replace(path + ".tmp", path)
            inloop.checkpoint(path, step)
        time.sleep(0.01)


if MODE == "launch":
    launch()
else:
    rank_main()
