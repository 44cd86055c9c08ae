# MLflow's fluent tracking calls on top of the inloop SDK (stdlib only), so a training script that
# logs with MLflow runs under `inloop run` with one changed line:
#
#     import inloop.mlflow as mlflow        # was: import mlflow
#
# Owns: the run context (start_run / end_run / active_run), metrics, params and tags mapped to SDK
# messages. Every call is one SDK call; nothing goes over the network. Calls that store files
# (artifacts, models, figures) or change MLflow's own settings are accepted and do nothing, with
# one warning each naming what was not stored. Never raises into training code, except where
# MLflow itself raises for a misuse the script must fix (a second active run without nested=True).
"""MLflow fluent API for inloop.

    import inloop.mlflow as mlflow
    mlflow.set_experiment("quickstart")
    with mlflow.start_run(run_name="baseline"):
        mlflow.log_params({"lr": 0.01, "epochs": 5})
        mlflow.set_tag("model", "mlp")
        for epoch in range(5):
            mlflow.log_metric("loss", loss, step=epoch)

Metrics go to the run's series (steps as given; without a step each series counts its own points),
params to its params, tags to its tags as "key=value". Nested runs log into the same inloop run.
"""

import sys
import time
import uuid

import inloop as _sdk

__all__ = [
    "start_run", "end_run", "active_run", "last_active_run", "log_metric", "log_metrics",
    "log_param", "log_params", "set_tag", "set_tags", "set_experiment", "set_tracking_uri",
    "get_tracking_uri", "autolog", "log_artifact", "log_artifacts", "log_dict", "log_text",
    "log_figure", "log_image", "log_table", "log_input", "enable_system_metrics_logging",
    "ActiveRun", "MlflowException",
]

_warned = set()


def _warn_once(what):
    if what in _warned:
        return
    _warned.add(what)
    try:
        sys.stderr.write("inloop.mlflow: %s is not stored by inloop; the call does nothing\n" % what)
    except Exception:
        pass


class MlflowException(Exception):
    """Raised for the misuses MLflow itself rejects (so the script's error handling matches)."""


class RunInfo:
    def __init__(self, run_id, run_name, experiment_id):
        self.run_id = run_id
        self.run_uuid = run_id
        self.run_name = run_name
        self.experiment_id = experiment_id
        self.status = "RUNNING"
        self.start_time = int(time.time() * 1000)
        self.end_time = None
        self.lifecycle_stage = "active"
        self.artifact_uri = ""


class RunData:
    def __init__(self):
        self.metrics = {}
        self.params = {}
        self.tags = {}


class ActiveRun:
    """What start_run returns: `.info` and `.data` as in MLflow; a context manager that ends the
    run (FINISHED, or FAILED when the block raised)."""

    def __init__(self, info):
        self.info = info
        self.data = RunData()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        end_run("FINISHED" if exc_type is None else "FAILED")
        return False


class _Ctx:
    def __init__(self):
        self.stack = []           # active runs, innermost last
        self.last = None          # the last run ended
        self.experiment = None    # (id, name)
        self.tracking_uri = "inloop"


_C = _Ctx()


def _current():
    """The active run, started implicitly on first use as MLflow does."""
    if not _C.stack:
        start_run()
    return _C.stack[-1]


def set_tracking_uri(uri):
    """Accepted and remembered; under inloop every call goes to the supervisor."""
    _C.tracking_uri = str(uri)


def get_tracking_uri():
    return _C.tracking_uri


def set_experiment(experiment_name=None, experiment_id=None):
    """Records the experiment as the run's tag `mlflow.experimentName` (and returns an object
    with `experiment_id` and `name`, as MLflow does)."""
    name = experiment_name if experiment_name is not None else str(experiment_id)
    exp_id = str(experiment_id) if experiment_id is not None else name
    _C.experiment = (exp_id, name)
    if _C.stack:
        _sdk.tags(**{"mlflow.experimentName": name})

    class _Experiment:
        pass

    e = _Experiment()
    e.experiment_id, e.name, e.lifecycle_stage = exp_id, name, "active"
    return e


def start_run(run_id=None, experiment_id=None, run_name=None, nested=False, tags=None,
              description=None, log_system_metrics=None, **_ignored):
    """Start (or, with nested=True, nest) a run. The process is one inloop run: its name is
    `inloop run --name`; `run_name` is kept as the tag `mlflow.runName`."""
    if _C.stack and not nested:
        raise MlflowException(
            "Run with UUID %s is already active. To start a nested run, call start_run with "
            "nested=True" % _C.stack[-1].info.run_id)
    info = _sdk.run_info()
    rid = run_id or info.get("run_id") or uuid.uuid4().hex
    name = run_name or info.get("run_name") or rid
    exp = experiment_id if experiment_id is not None else (_C.experiment[0] if _C.experiment
                                                            else "0")
    run = ActiveRun(RunInfo(rid, name, str(exp)))
    _C.stack.append(run)
    out = {}
    if run_name:
        out["mlflow.runName"] = run_name
    if _C.experiment:
        out["mlflow.experimentName"] = _C.experiment[1]
    if description:
        out["mlflow.note.content"] = description
    if tags:
        out.update({str(k): v for k, v in dict(tags).items()})
    if out:
        set_tags(out)
    return run


def end_run(status="FINISHED"):
    """End the innermost active run. The process's exit decides the inloop run's status."""
    if not _C.stack:
        return
    run = _C.stack.pop()
    run.info.status = str(status)
    run.info.end_time = int(time.time() * 1000)
    _C.last = run


def active_run():
    return _C.stack[-1] if _C.stack else None


def last_active_run():
    return active_run() or _C.last


def log_metric(key, value, step=None, timestamp=None, synchronous=None, run_id=None, **_ignored):
    run = _current()
    _sdk.log(step, {str(key): value})
    run.data.metrics[str(key)] = value


def log_metrics(metrics, step=None, synchronous=None, run_id=None, timestamp=None, **_ignored):
    run = _current()
    d = {str(k): v for k, v in dict(metrics).items()}
    _sdk.log(step, d)
    run.data.metrics.update(d)


def log_param(key, value, synchronous=None):
    run = _current()
    _sdk.params({str(key): value})
    run.data.params[str(key)] = str(value)
    return value


def log_params(params, synchronous=None, run_id=None):
    run = _current()
    d = {str(k): v for k, v in dict(params).items()}
    _sdk.params(d)
    run.data.params.update({k: str(v) for k, v in d.items()})


def set_tag(key, value, synchronous=None):
    run = _current()
    _sdk.tags(**{str(key): value})
    run.data.tags[str(key)] = str(value)


def set_tags(tags, synchronous=None):
    run = _current()
    d = {str(k): v for k, v in dict(tags).items()}
    _sdk.tags(**d)
    run.data.tags.update({k: str(v) for k, v in d.items()})


def autolog(*_args, **_kwargs):
    _warn_once("autolog()")


def enable_system_metrics_logging(*_args, **_kwargs):
    _warn_once("system metrics logging")


def _artifact(name):
    def call(*_args, **_kwargs):
        _warn_once("%s()" % name)
    call.__name__ = name
    return call


log_artifact = _artifact("log_artifact")
log_artifacts = _artifact("log_artifacts")
log_dict = _artifact("log_dict")
log_text = _artifact("log_text")
log_figure = _artifact("log_figure")
log_image = _artifact("log_image")
log_table = _artifact("log_table")
log_input = _artifact("log_input")
