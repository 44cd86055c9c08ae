# A scripted agent for the parallel-rounds tests: one edit per round (INLOOP_LOOP_ROUND), in the
# slot's own worktree (its current directory). Rounds 1-2 improve different files (both kept,
# the second after a rebase); rounds 3-4 change the same line (one kept, one conflict); later
# rounds edit, leave a marker and hang until stopped. Each checks that its history file is its
# own round's (two slots write theirs at the same time).
import json
import os
import time

r = int(os.environ["INLOOP_LOOP_ROUND"])
with open(os.environ["INLOOP_LOOP_HISTORY"]) as f:  # the slot's own history: this round's
    assert json.load(f)["round"] == r, "the history handed to the agent is another round's"
plan = {1: ("a.txt", "a = 1"), 2: ("b.txt", "b = 1"), 3: ("a.txt", "a = 0.5"), 4: ("a.txt", "a = 0.7")}
if r in plan:
    path, text = plan[r]
    with open(path, "w") as f:
        f.write(text + "\n")
else:
    with open("a.txt", "w") as f:
        f.write("a = 0.1\n")
    open(os.environ["AGENT_LOG"] + f".edited-{r}", "w").close()
    time.sleep(60)
