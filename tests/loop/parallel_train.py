# A stdlib "training" for the loop's parallel-round and MCP tests: loss = a + b from a.txt and
# b.txt (each "name = VALUE") plus 0.01 * seed (a small, known seed noise, far below the changes
# the tests make, so the gate's verdicts are deterministic), printed as a JSON metric line. Appends the CUDA_VISIBLE_DEVICES it was given to $DEVLOG.
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
seed = int(sys.argv[1])
print(json.dumps({"step": 1, "loss": value("a.txt") + value("b.txt") + 0.01 * seed}), flush=True)
