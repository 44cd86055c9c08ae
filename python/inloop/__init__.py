# inloop Python SDK (stdlib only): the training-process side of docs/sdk_protocol.md.
# Owns: log / params / checkpoint messages written as JSON lines to the pipe named by
# INLOOP_METRICS_FD, the control-file reader (INLOOP_CONTROL), and the no-op / print fallback
# used when the process runs outside `inloop run`. Never raises into training code.
"""inloop SDK.

    import inloop
    inloop.params(lr=3e-4, model="gpt")            # or inloop.params({"optim.lr": 3e-4})
    inloop.log(step, {"train/loss": loss, "lr": lr})  # or inloop.log(step, loss=loss)
    inloop.checkpoint(step, "/abs/ckpt.pt")         # after the file is completely written
    inloop.control()                                # dict from INLOOP_CONTROL, or {}

Under `inloop run` every call writes one JSON line to the supervisor's pipe; outside it every call
is a cheap no-op (or, with INLOOP_PRINT=1 / init(print=True), `log` prints a readable line).
"""

import json
import math
import os
import sys
import threading

__all__ = [
    "init", "log", "params", "checkpoint", "control", "enabled", "run_info", "__version__",
]
__version__ = "0.1.0"

# Lines must stay below this so that one write(2) carries one whole line (docs/sdk_protocol.md).
# Threads of one process never interleave (a lock guards the write). Between processes sharing
# the fd (forked workers), POSIX only promises atomic pipe writes up to PIPE_BUF (4096 bytes on
# Linux); metric lines are normally far below that.
MAX_LINE_BYTES = 64 * 1024 - 1


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.ready = False       # env read and fd checked
        self.fd = None           # int when connected
        self.print = False       # print readable lines when not connected
        self.warned = set()      # one-time warning keys


_S = _State()


def _reinit_lock_after_fork():
    # A fork while another thread held a lock would leave the child deadlocked.
    global _INIT_LOCK
    _S.lock = threading.Lock()
    _INIT_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_lock_after_fork)


def _warn(key, msg):
    if key in _S.warned:
        return
    _S.warned.add(key)
    try:
        sys.stderr.write("inloop: %s\n" % msg)
        sys.stderr.flush()
    except Exception:
        pass


def _truthy(s):
    return str(s).strip().lower() in ("1", "true", "yes", "on")


_INIT_LOCK = threading.Lock()


def init(print=None, fd=None):
    """(Re)read the environment. Called lazily by every other function; call it yourself to force
    printing (`print=True`) or to name the pipe explicitly (`fd=N`). Returns enabled()."""
    with _INIT_LOCK:
        return _init_locked(print, fd)


def _init_locked(print, fd):
    if fd is None:
        raw = os.environ.get("INLOOP_METRICS_FD", "").strip()
        if raw:
            try:
                fd = int(raw)
            except ValueError:
                _warn("badenv", "INLOOP_METRICS_FD=%r is not a number; metrics disabled" % raw)
                fd = None
    if fd is not None:
        try:
            os.fstat(fd)
        except OSError as e:
            _warn("badfd", "metrics pipe fd %s unusable (%s); metrics disabled" % (fd, e))
            fd = None
    if print is None:
        print = _truthy(os.environ.get("INLOOP_PRINT", ""))
    # Publish the finished state last: other threads read it without the lock.
    _S.fd = fd
    _S.print = bool(print)
    _S.ready = True
    return fd is not None


def _ensure():
    if not _S.ready:
        with _INIT_LOCK:
            if not _S.ready:
                _init_locked(None, None)


def enabled():
    """True when connected to a supervisor's metrics pipe."""
    _ensure()
    return _S.fd is not None


def run_info():
    """Which run / attempt this process is, as told by the supervisor ({} outside inloop)."""
    out = {}
    for key, env in (("run_id", "INLOOP_RUN_ID"), ("run_name", "INLOOP_RUN_NAME"),
                     ("attempt", "INLOOP_ATTEMPT")):
        v = os.environ.get(env)
        if v is not None:
            out[key] = v
    return out


def _send(obj):
    """Serialise and write one line in a single write; disable on a broken pipe."""
    fd = _S.fd
    if fd is None:
        return False
    try:
        data = (json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
                + "\n").encode("utf-8")
    except (TypeError, ValueError) as e:  # should not happen: values are sanitised before
        _warn("encode", "could not encode a message (%s); dropped" % e)
        return False
    if len(data) > MAX_LINE_BYTES:
        _warn("toolong:" + str(obj.get("t")),
              "a %r message of %d bytes exceeds the 64 KiB line limit; dropped"
              % (obj.get("t"), len(data)))
        return False
    try:
        with _S.lock:
            # One os.write normally carries the whole line; the loop only matters if a signal
            # interrupts a large write part-way (the lock keeps our own threads out meanwhile).
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        return True
    except OSError as e:  # EPIPE (supervisor gone), EBADF (fd closed by the program), ...
        _S.fd = None
        _warn("broken", "metrics pipe broken (%s); further metrics are not sent" % e)
        return False
    except Exception as e:  # never raise into training code
        _warn("sendexc", "failed to send metrics (%s)" % e)
        return False


def _number(v):
    """A JSON-safe number for a metric value, or None when it is not numeric.

    bool -> 0/1, int -> int, anything float()-able (numpy scalars, 0-d tensors) -> float;
    NaN / +-Inf -> "NaN" / "Infinity" / "-Infinity"."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, (str, bytes, bytearray)) or v is None:
        return None
    try:
        f = float(v)
    except Exception:
        return None
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return f


def _flatten_metrics(src, prefix, out):
    for k, v in src.items():
        key = "%s/%s" % (prefix, k) if prefix else str(k)
        if isinstance(v, dict):
            _flatten_metrics(v, key, out)
            continue
        n = _number(v)
        if n is None:
            _warn("nonnum:" + key, "metric %r has a non-numeric value of type %s; skipped"
                  % (key, type(v).__name__))
            continue
        out[key] = n


def _fmt_value(v):
    if isinstance(v, float):
        return format(v, ".6g")
    return str(v)


def log(step=None, metrics=None, /, **kwargs):
    """Log metrics at `step` (None: no step). Metrics as a dict (keys may contain '/'), as
    keyword arguments, or both. `log({"loss": x})` (a dict as the only argument) also works."""
    try:
        _ensure()
        if _S.fd is None and not _S.print:
            return
        if isinstance(step, dict) and metrics is None:
            step, metrics = None, step
        if step is None and "step" in kwargs:
            step = kwargs.pop("step")
        if metrics is None and isinstance(kwargs.get("metrics"), dict):
            metrics = kwargs.pop("metrics")
        vals = {}
        if metrics is not None:
            if not isinstance(metrics, dict):
                try:
                    metrics = dict(metrics)
                except Exception:
                    _warn("badmetrics", "log() expects a dict of metrics, got %s"
                          % type(metrics).__name__)
                    metrics = {}
            _flatten_metrics(metrics, "", vals)
        if kwargs:
            _flatten_metrics(kwargs, "", vals)
        if step is not None:
            try:
                step = int(step)
            except Exception:
                _warn("badstep", "step %r is not an integer; sent without a step" % (step,))
                step = None
        if _S.fd is not None:
            if not vals:
                return
            msg = {"t": "log"}
            if step is not None:
                msg["step"] = step
            msg["metrics"] = vals
            _send(msg)
        elif _S.print:
            parts = [] if step is None else ["step %d" % step]
            parts += ["%s %s" % (k, _fmt_value(v)) for k, v in vals.items()]
            sys.stdout.write(" | ".join(parts) + "\n")
            sys.stdout.flush()
    except Exception as e:  # never raise into training code
        _warn("logexc", "log() failed (%s)" % e)


def _param_value(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if math.isfinite(v):
            return v
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return str(v)


def _flatten_params(src, prefix, out):
    for k, v in src.items():
        key = "%s.%s" % (prefix, k) if prefix else str(k)
        if isinstance(v, dict):
            _flatten_params(v, key, out)
        else:
            out[key] = _param_value(v)


def params(values=None, /, **kwargs):
    """Record hyper-parameters. Scalars stay JSON scalars, other values become str(); nested
    dicts flatten to dotted keys ({"optim": {"lr": 1}} -> "optim.lr")."""
    try:
        _ensure()
        if _S.fd is None:
            return
        out = {}
        if values is not None:
            if not isinstance(values, dict):
                try:
                    values = dict(values)
                except Exception:
                    try:
                        values = dict(vars(values))  # argparse.Namespace and similar
                    except Exception:
                        _warn("badparams", "params() expects a dict, got %s"
                              % type(values).__name__)
                        values = {}
            _flatten_params(values, "", out)
        _flatten_params(kwargs, "", out)
        if out:
            _send({"t": "params", "params": out})
    except Exception as e:
        _warn("paramsexc", "params() failed (%s)" % e)


def checkpoint(step, path):
    """Announce a checkpoint that is completely written (so the supervisor may resume from it)."""
    try:
        _ensure()
        if _S.fd is None:
            return
        msg = {"t": "checkpoint"}
        if step is not None:
            try:
                msg["step"] = int(step)
            except Exception:
                _warn("badstep", "step %r is not an integer; sent without a step" % (step,))
        msg["path"] = os.path.abspath(os.fspath(path))
        _send(msg)
    except Exception as e:
        _warn("ckptexc", "checkpoint() failed (%s)" % e)


def control():
    """The supervisor's instructions: the JSON object in the file named by INLOOP_CONTROL, read
    fresh on every call; {} when unset, missing or unreadable."""
    path = os.environ.get("INLOOP_CONTROL")
    if not path:
        return {}
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except Exception as e:
        _warn("control", "could not read control file %s (%s)" % (path, e))
        return {}
    return data if isinstance(data, dict) else {}
