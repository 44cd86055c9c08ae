# Weights & Biases' run calls on top of the inloop SDK (stdlib only), so a training script that
# logs with wandb runs under `inloop run` with one changed line:
#
#     import inloop.wandb as wandb          # was: import wandb
#
# Owns: W&B's history-row semantics (the `_step` counter, commit=False accumulation, an explicit
# step that commits the rows before it, steps that go backwards are dropped with a warning as W&B
# does), define_metric's step_metric, the config and summary objects, mapped to SDK messages.
# Nothing goes over the network. Media objects (Image, Table, Histogram, ...) are accepted and not
# stored; calls that upload files do nothing, with one warning each. Never raises into training code.
"""W&B API for inloop.

    import inloop.wandb as wandb
    run = wandb.init(project="demo", config={"lr": 0.01, "epochs": 10})
    for epoch in range(10):
        wandb.log({"loss": loss, "acc": acc})        # history row, _step 0, 1, 2, ...
    run.summary["best_acc"] = best
    wandb.finish()

History rows become the run's series at their `_step`; config becomes params; tags stay tags;
project, group and job type become tags `wandb.project=...`; summary values set by the script
become params `summary.KEY`.
"""

import atexit
import fnmatch
import sys
import time
import uuid

import inloop as _sdk

__all__ = [
    "init", "log", "finish", "define_metric", "watch", "unwatch", "save", "login", "alert",
    "config", "summary", "run", "Run", "Config", "Summary", "Image", "Table", "Histogram",
    "Audio", "Video", "Html", "Object3D", "Molecule", "Plotly", "Artifact", "Settings",
    "log_artifact", "use_artifact",
]

_warned = set()


def _warn(key, msg):
    if key in _warned:
        return
    _warned.add(key)
    try:
        sys.stderr.write("inloop.wandb: %s\n" % msg)
    except Exception:
        pass


def _flat(d, prefix, out):
    for k, v in d.items():
        key = "%s.%s" % (prefix, k) if prefix else str(k)
        if isinstance(v, dict) and not ("_type" in v):
            _flat(v, key, out)
        else:
            out[key] = v
    return out


class _Record:
    """Attribute and item access over `_items`; every change goes through update()."""

    def __init__(self):
        object.__setattr__(self, "_items", {})

    def __setattr__(self, k, v):
        self.update({k: v})

    def __getattr__(self, k):
        try:
            return self._items[k]
        except KeyError:
            raise AttributeError(k) from None

    def __setitem__(self, k, v):
        self.update({k: v})

    def __getitem__(self, k):
        return self._items[k]

    def __contains__(self, k):
        return k in self._items

    def get(self, k, default=None):
        return self._items.get(k, default)

    def keys(self):
        return self._items.keys()

    def items(self):
        return self._items.items()


class Config(_Record):
    """wandb.config: attribute and item access; every change is recorded as a param."""

    def update(self, d=None, allow_val_change=None, **kwargs):
        vals = {}
        if d is not None:
            if not isinstance(d, dict):
                try:
                    d = dict(d)
                except Exception:
                    d = dict(vars(d))  # argparse.Namespace
            vals.update(d)
        vals.update(kwargs)
        if not vals:
            return
        self._items.update(vals)
        _sdk.params(_flat(vals, "", {}))

    def setdefaults(self, d):
        self.update({k: v for k, v in dict(d).items() if k not in self._items})

    def as_dict(self):
        return dict(self._items)


class Summary(_Record):
    """run.summary: the last logged value of each key, unless the script sets one; values the
    script sets are recorded as params `summary.KEY`."""

    def _auto(self, row):
        self._items.update(row)

    def update(self, d=None, **kwargs):
        vals = dict(d or {})
        vals.update(kwargs)
        self._items.update(vals)
        flat = _flat(vals, "", {})
        _sdk.params({"summary." + k: v for k, v in flat.items() if _scalar(v)})


def _scalar(v):
    return v is None or isinstance(v, (bool, int, float, str))


class Run:
    """What init returns. History rows follow W&B: `log(d)` commits a row at the current `_step`
    and advances it; `commit=False` adds to the row without committing; `step=N` first commits
    the pending row, then accumulates at N until a larger step, `commit=True` or finish()."""

    def __init__(self, project, name, run_id, config, tags, group, job_type, notes):
        info = _sdk.run_info()
        self.id = run_id or info.get("run_id") or uuid.uuid4().hex[:8]
        self.name = name or info.get("run_name") or self.id
        self.project = project or "uncategorized"
        self.group, self.job_type, self.notes = group, job_type, notes
        self.tags = tuple(tags or ())
        self.config = config
        self.summary = Summary()
        self.step = 0              # the `_step` the next committed row gets
        self._row = {}
        self._row_step = None      # the explicit step of the pending row, if any
        self._defined = []         # (glob, step_metric)
        self._finished = False
        self.start_time = time.time()

    # -- history ---------------------------------------------------------------------------
    def log(self, data, step=None, commit=None, sync=None):
        try:
            if self._finished:
                _warn("finished", "log() after finish() is ignored")
                return
            if not isinstance(data, dict):
                _warn("baddata", "log() expects a dict, got %s" % type(data).__name__)
                return
            if step is not None:
                step = int(step)
                if step < self.step:
                    _warn("backstep:%d" % step,
                          "step %d is before the current step %d; the values are dropped (as W&B "
                          "does)" % (step, self.step))
                    return
                if step > self.step:
                    self._commit()
                    self.step = step
            self._row.update(data)
            if commit or (commit is None and step is None):
                self._commit()
        except Exception as e:
            _warn("logexc", "log() failed (%s)" % e)

    def _commit(self):
        if not self._row:
            return
        row, self._row = self._row, {}
        self.summary._auto(row)
        flat = _flat(row, "", {})
        numeric = {k: v for k, v in flat.items() if _is_number(v)}
        skipped = [k for k in flat if k not in numeric]
        for k in skipped:
            _warn("media:" + k, "%r is not a number (media, table or text); not stored" % k)
        by_step = {}
        for k, v in numeric.items():
            s = self._step_for(k, numeric)
            by_step.setdefault(s, {})[k] = v
        for s, vals in by_step.items():
            _sdk.log(s, vals)
        self.step += 1

    def _step_for(self, key, row):
        for pattern, step_metric in self._defined:
            if step_metric and step_metric != key and fnmatch.fnmatchcase(key, pattern):
                v = row.get(step_metric)
                if v is not None:
                    try:
                        return int(v)
                    except (TypeError, ValueError):
                        return self.step
        return self.step

    def define_metric(self, name, step_metric=None, step_sync=None, hidden=None, summary=None,
                      goal=None, overwrite=None, **_ignored):
        """With step_metric, the metrics matching `name` (globs allowed) are recorded at the
        value of that metric in the same row instead of `_step`."""
        if step_metric:
            self._defined.append((str(name), str(step_metric)))
        return None

    # -- the rest of the run object ---------------------------------------------------------
    def finish(self, exit_code=None, quiet=None):
        if self._finished:
            return
        self._commit()
        self._finished = True

    def watch(self, *_args, **_kwargs):
        _warn("watch", "watch() (gradient and parameter histograms) is not stored by inloop")

    def save(self, *_args, **_kwargs):
        _warn("save", "save() (file upload) is not stored by inloop")

    def log_artifact(self, *_args, **_kwargs):
        _warn("artifact", "artifacts are not stored by inloop")

    def use_artifact(self, *_args, **_kwargs):
        _warn("artifact", "artifacts are not stored by inloop")

    def log_code(self, *_args, **_kwargs):
        _warn("code", "log_code() is not stored by inloop")

    def alert(self, title="", text="", level=None, **_kwargs):
        _warn("alert", "alert() is printed, not sent: %s: %s" % (title, text))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.finish(exit_code=0 if exc_type is None else 1)
        return False


def _is_number(v):
    if isinstance(v, bool):
        return True
    if isinstance(v, (int, float)):
        return True
    if isinstance(v, (str, bytes, dict, list, tuple)) or v is None:
        return False
    try:
        float(v)  # numpy scalars, 0-d tensors
        return True
    except Exception:
        return False


config = Config()
summary = Summary()
run = None


def init(project=None, entity=None, name=None, config=None, tags=None, notes=None, group=None,
         job_type=None, mode=None, id=None, resume=None, reinit=None, dir=None, settings=None,
         **_ignored):
    """Start the run (a second init without finish() returns the same run, as W&B does)."""
    global run, summary
    try:
        if run is not None and not run._finished:
            if config:
                globals()["config"].update(config)
            return run
        cfg = globals()["config"]
        run = Run(project, name, id, cfg, tags, group, job_type, notes)
        summary = run.summary
        labels = {"wandb.project": run.project}
        if group:
            labels["wandb.group"] = group
        if job_type:
            labels["wandb.job_type"] = job_type
        if name:
            labels["wandb.name"] = name
        _sdk.tags(*(tags or ()), **labels)
        if config is not None:
            cfg.update(config)
    except Exception as e:
        _warn("initexc", "init() failed (%s)" % e)
    return run


def _run():
    if run is None or run._finished:
        init()
    return run


def log(data, step=None, commit=None, sync=None):
    _run().log(data, step=step, commit=commit)


def define_metric(name, step_metric=None, **kwargs):
    return _run().define_metric(name, step_metric=step_metric, **kwargs)


def finish(exit_code=None, quiet=None):
    if run is not None:
        run.finish(exit_code=exit_code)


def watch(*args, **kwargs):
    _run().watch(*args, **kwargs)


def unwatch(*_args, **_kwargs):
    pass


def save(*args, **kwargs):
    _run().save(*args, **kwargs)


def log_artifact(*args, **kwargs):
    _run().log_artifact(*args, **kwargs)


def use_artifact(*args, **kwargs):
    _run().use_artifact(*args, **kwargs)


def alert(*args, **kwargs):
    _run().alert(*args, **kwargs)


def login(*_args, **_kwargs):
    return True


class Settings:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class _Media:
    """Media and table objects: accepted in log() and not stored (they are not numbers)."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class Image(_Media):
    pass


class Table(_Media):
    def add_data(self, *args):
        pass


class Histogram(_Media):
    pass


class Audio(_Media):
    pass


class Video(_Media):
    pass


class Html(_Media):
    pass


class Object3D(_Media):
    pass


class Molecule(_Media):
    pass


class Plotly(_Media):
    pass


class Artifact(_Media):
    def add_file(self, *args, **kwargs):
        pass

    def add_dir(self, *args, **kwargs):
        pass


@atexit.register
def _finish_at_exit():
    try:
        finish()
    except Exception:
        pass
