# A stdlib "training" for the parallel-rounds tests: loss = a + b from a.txt and b.txt (each
# "name = VALUE"), the same for every seed (so the gate's verdicts are deterministic), printed as
# a JSON metric line. Appends the CUDA_VISIBLE_DEVICES it was given to $DEVLOG.
import json
import os
import sys


def value(path):
    with open(path) as f:
        return float(f.read().split("=")[1])


if os.environ.get("DEVLOG"):
    with open(os.environ["DEVLOG"], "a") as log:
        log.write(os.environ.get("INLOOP_LOOP_ROUND", "?") + " " +
                  os.environ.get("CUDA_VISIBLE_DEVICES", "-") + "\n")
print(json.dumps({"step": 1, "loss": value("a.txt") + value("b.txt"), "seed": int(sys.argv[1])}),
      flush=True)
