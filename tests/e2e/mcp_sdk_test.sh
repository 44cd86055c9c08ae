#!/usr/bin/env bash
# An agent runs experiments over MCP (issue 21): the official MCP TypeScript SDK client
# (mcp_sdk_client.mjs, @modelcontextprotocol/sdk from ui/node_modules) drives `inloop mcp` in a
# project whose inloop.toml allows /usr/bin/python3: a real PyTorch run started with start_run hits
# a NaN, the doctor rolls it back to the checkpoint the script announced through the SDK, and
# run_status shows it finished after 2 attempts with the finding; a second run is stopped by its
# budget; refusals name the limit. Then `inloop pending` lists what propose_action recorded.
source "$(dirname "$0")/lib.sh"
command -v node > /dev/null || { echo "skip: node is not installed"; exit 77; }
[ -d "$INLOOP_SRC/ui/node_modules/@modelcontextprotocol/sdk" ] || fail "run ./setup.sh: ui/node_modules lacks @modelcontextprotocol/sdk"

cat > inloop.toml <<'TOML'
[mcp]
allowed_commands = [["/usr/bin/python3"]]
max_budget_s = 120
TOML

# A tiny PyTorch regression; the batch at data index 25 is poisoned (NaN), which ruins the weights.
# Checkpoints every 10 steps are announced through the SDK; the script resumes from
# INLOOP_RESUME_FROM and skips the INLOOP_SKIP window, as the doctor tells it.
cat > train.py <<PY
import os, sys, time
sys.path.insert(0, "$INLOOP_SRC/python")
import torch
import inloop
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
resume = os.environ.get("INLOOP_RESUME_FROM")
windows = [tuple(int(x) for x in w.split(":")) for w in os.environ.get("INLOOP_SKIP", "").split(",") if w]
start = 0
if resume:
    state = torch.load(resume)
    model.load_state_dict(state["model"])
    start = state["step"]
def data_index(k):
    for s, t in reversed(windows):
        if k >= s:
            k += t - s
    return k
os.makedirs("ckpt", exist_ok=True)
w_true = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
for step in range(start + 1, 41):
    g = torch.Generator().manual_seed(data_index(step))
    x = torch.randn(16, 4, generator=g)
    y = x @ w_true.T
    if data_index(step) == 25:
        x = x * float("nan")
    loss = torch.nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print("step %d | loss %.4f" % (step, loss.item()), flush=True)
    if step % 10 == 0:
        path = os.path.abspath("ckpt/step-%d.pt" % step)
        torch.save({"model": model.state_dict(), "step": step}, path)
        inloop.checkpoint(path, step)
    time.sleep(0.1 if not torch.isfinite(loss) else 0.02)
PY
inloop run --name outside-run -- true > /dev/null 2>&1

INLOOP_BIN="$INLOOP_BIN" INLOOP_SRC="$INLOOP_SRC" timeout 300 node "$INLOOP_SRC/tests/e2e/mcp_sdk_client.mjs" \
  || fail "the MCP SDK client failed"

inloop pending > pending.txt
assert_contains "$(cat pending.txt)" "lr_cut" "the proposed lr_cut is pending"
assert_contains "$(cat pending.txt)" "the loss went NaN at step 25" "with its reason"
inloop pending --json > pending.json
assert_eq "$(json "sorted(a['action'] for a in d if a['trigger'] == 'assistant' and a['state'] == 'pending')" < pending.json)" \
  "['lr_cut', 'stop']" "both proposals pending, from the assistant"
inloop events mcp-torch --json > ev.json
assert_eq "$(json "[(e['data']['action'], e['data']['resume_step']) for e in d if e['kind']=='action_applied']" < ev.json)" \
  "[('rollback_skip', 20)]" "the doctor rolled back to the step-20 checkpoint"
pass "MCP SDK client: start_run, wait_run, run_status, budget, limits, stop_run, propose_action"
