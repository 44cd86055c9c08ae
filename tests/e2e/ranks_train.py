# A tiny data-parallel training under torch.distributed (gloo, CPU) for ranks_test.sh.
#   ranks_train.py straggle STEPS  -- rank 1 spends SLOW seconds more per step in its own work
#   ranks_train.py nan STEPS       -- rank 1's loss turns NaN at step NAN_STEP on attempt 1
# Every rank logs through the SDK and prints "step=N shard=RANK" (torchrun --tee labels the
# lines); rank 0 checkpoints every 5 steps and a restarted attempt resumes from inloop's pick.
import os
import sys
import time

import torch
import torch.distributed as dist

import inloop

MODE, STEPS = sys.argv[1], int(sys.argv[2])
SLOW = float(os.environ.get("SLOW", "0.04"))
NAN_STEP = int(os.environ.get("NAN_STEP", "12"))

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
# One fixed batch per rank: the loss falls smoothly, so the only anomalies are the injected ones.
x = torch.randn(8, 4, generator=torch.Generator().manual_seed(100 + rank))
attempt = inloop.remedies()["attempt"]
r = inloop.remedies()
start = 1
if r["resume_from"]:
    state = torch.load(r["resume_from"])
    model.module.load_state_dict(state["model"])
    start = state["step"] + 1
    print("rank %d resumed from step %d" % (rank, state["step"]), flush=True)
os.makedirs("ckpt", exist_ok=True)
for step in range(start, STEPS + 1):
    with inloop.timed():  # this rank's own work; the all-reduce in backward() stays outside
        if MODE == "straggle" and rank == 1:
            time.sleep(SLOW)
        loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        if MODE == "nan" and rank == 1 and step == NAN_STEP and attempt == 1:
            loss = loss * float("nan")
    opt.zero_grad()
    loss.backward()
    opt.step()
    inloop.log(step, {"train/loss": loss.item()})
    print("step=%d shard=%d.0" % (step, rank), flush=True)
    if rank == 0 and step % 5 == 0:
        path = os.path.abspath("ckpt/step-%d.pt" % step)
        torch.save({"model": model.module.state_dict(), "step": step}, path + ".tmp")
        os.replace(path + ".tmp", path)
        inloop.checkpoint(path, step)
    time.sleep(0.01)
dist.destroy_process_group()
sys.stdout.flush()
os._exit(0)  # skip the interpreter's teardown of torch: seconds on a loaded machine
