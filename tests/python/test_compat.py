# Unit tests of the MLflow and W&B call shims (python/inloop/mlflow.py, wandb.py) and of the SDK's
# tags(): the exact SDK lines each call sequence writes to the pipe.
# Run: PYTHONPATH=python /usr/bin/python3 -m unittest discover -s tests/python -v
import importlib
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_sdk import PipeHarness  # noqa: E402  (the pipe harness of the SDK's own tests)


def fresh(name):
    for mod in ("inloop.mlflow", "inloop.wandb", "inloop"):
        sys.modules.pop(mod, None)
    importlib.import_module("inloop")
    return importlib.import_module(name)


class TagsAndSplitTest(PipeHarness):
    def test_tags_names_and_pairs(self):
        self.inloop.tags("baseline", ["a", "b"], team="nlp", seed=3)
        self.inloop.tags()  # nothing: no line
        self.assertEqual(self.lines(), [{"t": "tags",
                                         "tags": ["baseline", "a", "b", "team=nlp", "seed=3"]}])


class MlflowTest(PipeHarness):
    def setUp(self):
        super().setUp()
        self.mlflow = fresh("inloop.mlflow")

    def test_quickstart_sequence(self):
        mlflow = self.mlflow
        mlflow.set_experiment("quickstart")
        with mlflow.start_run(run_name="baseline") as run:
            self.assertEqual(run.info.run_id, "r-test")
            mlflow.log_params({"lr": 0.01, "epochs": 2})
            mlflow.log_param("optimizer", "adam")
            mlflow.set_tag("model", "mlp")
            mlflow.log_metric("loss", 0.5, step=0)
            mlflow.log_metrics({"loss": 0.25, "acc": 0.9}, step=1)
            mlflow.log_metric("final", 1.0)
            mlflow.log_artifact("model.pt")  # accepted, not stored
            self.assertIs(mlflow.active_run(), run)
        self.assertIsNone(mlflow.active_run())
        self.assertEqual(mlflow.last_active_run().info.status, "FINISHED")
        self.assertEqual(self.lines(), [
            {"t": "tags", "tags": ["mlflow.runName=baseline", "mlflow.experimentName=quickstart"]},
            {"t": "params", "params": {"lr": 0.01, "epochs": 2}},
            {"t": "params", "params": {"optimizer": "adam"}},
            {"t": "tags", "tags": ["model=mlp"]},
            {"t": "log", "step": 0, "metrics": {"loss": 0.5}},
            {"t": "log", "step": 1, "metrics": {"loss": 0.25, "acc": 0.9}},
            {"t": "log", "metrics": {"final": 1.0}},
        ])

    def test_second_run_without_nested_is_refused_and_a_failed_block_fails(self):
        mlflow = self.mlflow
        mlflow.start_run()
        with self.assertRaises(mlflow.MlflowException):
            mlflow.start_run()
        nested = mlflow.start_run(nested=True)
        self.assertIs(mlflow.active_run(), nested)
        try:
            with nested:
                raise ValueError("boom")
        except ValueError:
            pass
        self.assertEqual(mlflow.last_active_run().info.status, "RUNNING")  # the outer run
        mlflow.end_run()
        self.assertIsNone(mlflow.active_run())
        self.assertEqual(nested.info.status, "FAILED")

    def test_log_without_start_starts_a_run(self):
        self.mlflow.log_metric("x", 2, step=3)
        self.assertIsNotNone(self.mlflow.active_run())
        self.assertEqual(self.lines(), [{"t": "log", "step": 3, "metrics": {"x": 2}}])


class WandbTest(PipeHarness):
    def setUp(self):
        super().setUp()
        self.wandb = fresh("inloop.wandb")

    def logs(self):
        return [(l.get("step"), l["metrics"]) for l in self.lines() if l["t"] == "log"]

    def test_init_config_tags_and_rows(self):
        wandb = self.wandb
        run = wandb.init(project="demo", config={"lr": 0.01, "model": {"depth": 2}},
                         tags=["baseline"], group="g1")
        wandb.config.batch = 32
        wandb.log({"loss": 1.0, "acc": 0.5})
        wandb.log({"loss": 0.5})
        self.assertEqual(run.step, 2)
        run.summary["best"] = 0.9
        wandb.finish()
        lines = self.lines()
        self.assertEqual(lines[0], {"t": "tags", "tags": ["baseline", "wandb.project=demo",
                                                          "wandb.group=g1"]})
        self.assertEqual(lines[1], {"t": "params", "params": {"lr": 0.01, "model.depth": 2}})
        self.assertEqual(lines[2], {"t": "params", "params": {"batch": 32}})
        self.assertEqual(lines[3], {"t": "log", "step": 0, "metrics": {"loss": 1.0, "acc": 0.5}})
        self.assertEqual(lines[4], {"t": "log", "step": 1, "metrics": {"loss": 0.5}})
        self.assertEqual(lines[5], {"t": "params", "params": {"summary.best": 0.9}})

    def test_commit_false_and_explicit_steps_follow_wandb(self):
        wandb = self.wandb
        wandb.init()
        wandb.log({"a": 1}, commit=False)
        wandb.log({"b": 2})                 # commits one row at _step 0 with a and b
        wandb.log({"c": 3}, step=5)         # accumulates at 5
        wandb.log({"d": 4}, step=5)         # same row
        wandb.log({"e": 5}, step=3)         # backwards: dropped, as W&B does
        wandb.log({"f": 6}, step=7)         # commits row 5, accumulates at 7
        wandb.log({"g": 7}, commit=True)    # commits row 7 with f and g
        wandb.log({"h": 8})                 # _step 8
        wandb.finish()
        self.assertEqual(self.logs(), [(0, {"a": 1, "b": 2}), (5, {"c": 3, "d": 4}),
                                       (7, {"f": 6, "g": 7}), (8, {"h": 8})])

    def test_define_metric_step_metric_and_media(self):
        wandb = self.wandb
        wandb.init()
        wandb.define_metric("eval/*", step_metric="epoch")
        wandb.log({"train/loss": 2.0})
        wandb.log({"eval/acc": 0.7, "epoch": 10, "sample": wandb.Image(None)})
        wandb.finish()
        wandb.log({"late": 1})  # after finish: a fresh run, as W&B's module-level log does
        self.assertEqual(self.logs()[:3], [(0, {"train/loss": 2.0}), (10, {"eval/acc": 0.7}),
                                           (1, {"epoch": 10})])

    def test_outside_inloop_every_call_is_a_no_op(self):
        os.environ.pop("INLOOP_METRICS_FD", None)
        wandb = fresh("inloop.wandb")
        run = wandb.init(project="p", config={"x": 1})
        wandb.log({"loss": 1.0})
        self.assertEqual(run.config.x, 1)
        self.assertEqual(run.summary["loss"], 1.0)
        wandb.finish()
        mlflow = fresh("inloop.mlflow")
        with mlflow.start_run():
            mlflow.log_metric("x", 1)
        self.assertEqual(self.lines(), [])


if __name__ == "__main__":
    unittest.main()
