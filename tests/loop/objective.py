# A synthetic objective for the built-in search tests: a bowl with its minimum 0 at x = 0.3,
# lr = 10^-2.5. x arrives through INLOOP_PARAM_X, lr through the {lr} template. When the file
# $SLOW_MARKER.arm exists it announces itself at $SLOW_MARKER and sleeps (to be interrupted).
import json
import math
import os
import sys
import time

x = float(os.environ["INLOOP_PARAM_X"])
lr = float(sys.argv[sys.argv.index("--lr") + 1])
slow = os.environ.get("SLOW_MARKER")
if slow and os.path.exists(slow + ".arm"):
    open(slow, "w").close()
    time.sleep(30)
print(json.dumps({"step": 1, "objective": (x - 0.3) ** 2 + (math.log10(lr) + 2.5) ** 2}))
