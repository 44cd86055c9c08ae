# A scripted coding agent for the research-loop e2e test: real edits to tiny_train.py in the
# loop's work tree, one behaviour per round (INLOOP_LOOP_ROUND). It checks what inloop hands
# an agent (program file, history JSON) and records what it saw in $AGENT_LOG.
import json
import os
import re
import sys
import time

round_no = int(os.environ["INLOOP_LOOP_ROUND"])
program = os.environ["INLOOP_LOOP_PROGRAM"]
history_path = os.environ["INLOOP_LOOP_HISTORY"]
assert sys.argv[1] == history_path, (sys.argv, history_path)  # the {history} template
with open(program) as f:
    assert "learning rate" in f.read()
with open(history_path) as f:
    history = json.load(f)
assert history["round"] == round_no
seen = [(r["round"], r["verdict"]) for r in history["rounds"]]
with open(os.environ["AGENT_LOG"], "a") as log:
    log.write(json.dumps({"round": round_no, "seen": seen,
                          "champion": history["champion"]["metric"],
                          "goal": os.environ["INLOOP_LOOP_GOAL"]}) + "\n")


def set_lr(value):
    with open("tiny_train.py") as f:
        text = f.read()
    text = re.sub(r"^LR = .*$", f"LR = {value}", text, flags=re.M)
    with open("tiny_train.py", "w") as f:
        f.write(text)


plan = os.environ.get("AGENT_PLAN", "lr:0.05,lr:0.00001,break,protect").split(",")
action = plan[round_no - 1] if round_no <= len(plan) else "lr:0.03"
if action.startswith("lr:"):
    set_lr(action[3:])
elif action == "break":
    with open("tiny_train.py") as f:
        text = f.read()
    with open("tiny_train.py", "w") as f:
        f.write(text.replace("for step in range", "raise RuntimeError('broken by the agent')\nfor step in range", 1))
    with open("notes.txt", "w") as f:  # a new untracked file the reset must remove
        f.write("tried something\n")
elif action == "protect":
    set_lr("0.05")
    with open("evaluate.py", "a") as f:
        f.write("\n# scored more kindly\n")
elif action == "hang":  # edit, then wait to be interrupted
    set_lr("0.04")
    with open("scratch.py", "w") as f:
        f.write("x = 1\n")
    open(os.environ["AGENT_LOG"] + f".edited-{round_no}", "w").close()
    time.sleep(60)
elif action == "big":  # over the diff-size limit
    with open("tiny_train.py", "a") as f:
        f.write("".join(f"# note {i}\n" for i in range(60)))
elif action == "budget":  # reward hacking: more time for the run instead of a better model
    with open("tiny_train.py", "a") as f:
        f.write("TIME_BUDGET = 3000\n")
elif action == "noop":
    pass
