#!/usr/bin/env bash
# Training scripts written the way W&B's and MLflow's quickstarts write them, with one changed
# import line, run under `inloop run` on a machine where nothing is installed: `import inloop`
# resolves to the SDK built into the binary (put first on the child's PYTHONPATH), and the
# history rows, config, params and tags land in the run. `inloop sdk path` serves the same SDK
# to Python outside inloop.
source "$(dirname "$0")/lib.sh"
export XDG_CACHE_HOME="$WORK/cache"   # a clean cache: the SDK must be written out by inloop itself
unset PYTHONPATH

# W&B quickstart (docs.wandb.ai/quickstart), with a fixed seed.
cat > wandb_train.py <<'PY'
import random
import inloop.wandb as wandb

random.seed(7)
epochs = 10
lr = 0.01
run = wandb.init(project="my-awesome-project", config={"learning_rate": lr, "epochs": epochs},
                 tags=["quickstart"])
offset = random.random() / 5
print(f"lr: {lr}")
for epoch in range(2, epochs):
    acc = 1 - 2 ** -epoch - random.random() / epoch - offset
    loss = 2 ** -epoch + random.random() / epoch + offset
    print(f"epoch={epoch}, accuracy={acc}, loss={loss}")
    wandb.log({"accuracy": acc, "loss": loss})
run.summary["best_accuracy"] = acc
wandb.finish()
PY
"$PY" - > wandb_expected.json <<'PY'
import json, random
random.seed(7)
offset = random.random() / 5
rows = []
for epoch in range(2, 10):
    acc = 1 - 2 ** -epoch - random.random() / epoch - offset
    loss = 2 ** -epoch + random.random() / epoch + offset
    rows.append([epoch - 2, acc, loss])
print(json.dumps(rows))
PY
inloop run --name wb -- "$PY" wandb_train.py > wb.out 2> wb.err || fail "wandb script failed: $(cat wb.err)"
grep -q "ModuleNotFoundError" wb.err && fail "import inloop failed under inloop run: $(cat wb.err)"
inloop show wb --json > wb.json
assert_eq "$(json 'd["params"]["learning_rate"]' < wb.json)" 0.01 "wandb config -> params"
assert_eq "$(json 'd["params"]["epochs"]' < wb.json)" 10 "wandb config epochs"
assert_eq "$(json 'float(d["params"]["summary.best_accuracy"]) > 0.5' < wb.json)" True "wandb summary"
assert_eq "$(json 'sorted(d["tags"])' < wb.json)" "['quickstart', 'wandb.project=my-awesome-project']" "wandb tags"
inloop metrics wb accuracy --format json > acc.json
inloop metrics wb loss --format json > loss.json
"$PY" - acc.json loss.json wandb_expected.json <<'PY' || fail "wandb history differs"
import json, sys
acc = json.load(open(sys.argv[1]))["points"]
loss = json.load(open(sys.argv[2]))["points"]
want = json.load(open(sys.argv[3]))
assert [p[0] for p in acc] == [r[0] for r in want], ([p[0] for p in acc], want)
for p, r in zip(acc, want):
    assert abs(p[2] - r[1]) < 1e-9, (p, r)
for p, r in zip(loss, want):
    assert abs(p[2] - r[2]) < 1e-9, (p, r)
PY
pass "W&B quickstart under inloop run, nothing installed"

# MLflow quickstart (mlflow.org tracking quickstart), with a fixed seed.
cat > mlflow_train.py <<'PY'
import random
import inloop.mlflow as mlflow

random.seed(3)
params = {"solver": "lbfgs", "max_iter": 1000, "random_state": 8888}
mlflow.set_experiment("MLflow Quickstart")
with mlflow.start_run(run_name="lr-baseline"):
    mlflow.log_params(params)
    mlflow.set_tag("Training Info", "Basic LR model for iris data")
    w = 0.0
    for step in range(20):
        w += 0.1 * (1.0 - w) + random.uniform(-0.01, 0.01)
        mlflow.log_metric("train_loss", 1.0 - w, step=step)
    mlflow.log_metric("accuracy", w)
    mlflow.log_artifact("model.pkl")
PY
inloop run --name ml -- "$PY" mlflow_train.py > ml.out 2> ml.err || fail "mlflow script failed: $(cat ml.err)"
assert_contains "$(cat ml.err)" "log_artifact() is not stored by inloop" "unsupported call says so"
inloop show ml --json > ml.json
assert_eq "$(json 'd["params"]["solver"]' < ml.json)" lbfgs "mlflow params"
assert_eq "$(json 'd["params"]["max_iter"]' < ml.json)" 1000 "mlflow params int"
assert_eq "$(json 'sorted(d["tags"])' < ml.json)" "['Training Info=Basic LR model for iris data', 'mlflow.experimentName=MLflow Quickstart', 'mlflow.runName=lr-baseline']" "mlflow tags"
inloop metrics ml train_loss --format json > tl.json
assert_eq "$(json '[p[0] for p in d["points"]]' < tl.json)" "$(seq -s ', ' 0 19 | sed 's/^/[/; s/$/]/')" "mlflow steps"
assert_eq "$(json 'round(d["points"][0][2], 6)' < tl.json)" "$("$PY" -c 'import random; random.seed(3); print(round(1.0 - (0.1 + random.uniform(-0.01, 0.01)), 6))')" "mlflow first value"
pass "MLflow quickstart under inloop run, nothing installed"

# The same SDK outside inloop run: `inloop sdk path` writes it and names the directory.
dir=$(inloop sdk path)
assert_eq "${dir#"$XDG_CACHE_HOME"/inloop/python-sdk-}" "$(inloop sdk path --json | json 'd["key"]')" "sdk dir named by its key"
PYTHONPATH="$dir" "$PY" -c 'import inloop, inloop.wandb, inloop.mlflow; inloop.log(1, loss=1.0)' || fail "SDK from sdk path not importable"
assert_eq "$(PYTHONPATH="$dir" "$PY" -c 'import inloop; print(inloop.__file__.startswith("'"$dir"'"))')" True "the printed dir is the SDK"
# INLOOP_PYTHON_SDK=0 leaves PYTHONPATH alone: the import fails as it would without inloop.
INLOOP_PYTHON_SDK=0 inloop run --name off -- "$PY" -c 'import inloop' > off.out 2> off.err && fail "INLOOP_PYTHON_SDK=0 still put the SDK on PYTHONPATH"
assert_contains "$(cat off.err)" "ModuleNotFoundError" "opt-out"
pass "inloop sdk path"
