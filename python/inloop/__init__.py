# inloop Python SDK (stdlib only): the training-process side of docs/sdk_protocol.md.
# Owns: log / params / checkpoint messages written as JSON lines to the pipe named by
# INLOOP_METRICS_FD, the supervisor's instructions to a restarted process (the control file named
# by INLOOP_CONTROL and the INLOOP_* remedy variables, merged by remedies()), the skip-window
# arithmetic (data_index, skip_data), and the no-op / print fallback used when the process runs
# outside `inloop run`. Never raises into training code.
"""inloop SDK.

    import inloop
    inloop.params(lr=3e-4, model="gpt")            # or inloop.params({"optim.lr": 3e-4})
    inloop.tags("baseline", team="nlp")             # tags: "baseline", "team=nlp"
    inloop.log(step, {"train/loss": loss, "lr": lr})  # or inloop.log(step, loss=loss)
    inloop.checkpoint("/abs/ckpt.pt", step)         # after the file is completely written
                                                    # (the old order (step, path) works too)
    r = inloop.remedies()   # resume_from, skip_windows, lr_scale, micro_batch, attempt
    for step, batch in inloop.skip_data(loader, start_step=start):   # skips the windows in r
        ...
    inloop.data_index(step, r["skip_windows"])      # the data batch index step `step` trains on
    inloop.dataset("corpus", "out/corpus.jsonl")    # the records file the batches come from
    inloop.batch(index, record_ids)                 # the records data index `index` consumed
    inloop.control()                                # the raw dict from INLOOP_CONTROL, or {}
    req = inloop.remedy_request()   # each step: an in-process remedy to apply now, or None
    if req: load req["resume_from"], step = req["resume_step"], honour req["skip_windows"],
            scale the lr by req["lr_scale"]; then inloop.remedy_applied(req)  (no restart)

Under `inloop run` every call writes one JSON line to the supervisor's pipe; outside it every call
is a cheap no-op (or, with INLOOP_PRINT=1 / init(print=True), `log` prints a readable line).
In a multi-rank job (torchrun, srun, mpirun: RANK / SLURM_PROCID / OMPI_COMM_WORLD_RANK with a
world size > 1) every rank reports to the one supervisor, each message carrying its rank; a rank
that did not inherit the pipe opens the FIFO named by INLOOP_METRICS_PATH instead, and a rank on
another host (or one that cannot open the FIFO) connects to INLOOP_RANKS_ADDR over TCP with the
run's secret INLOOP_RANKS_TOKEN and sends the same lines.
remedies() reads the control file (INLOOP_CONTROL) and the environment (INLOOP_RESUME_FROM,
INLOOP_SKIP, INLOOP_LR_SCALE, INLOOP_MICRO_BATCH, INLOOP_ATTEMPT); the control file wins.
"""

import contextlib
import json
import math
import os
import socket
import stat
import sys
import threading
import time

__all__ = [
    "init", "log", "params", "tags", "checkpoint", "control", "remedies", "data_index",
    "skip_data", "remedy_request", "remedy_applied", "enabled", "run_info", "timed", "rank",
    "__version__",
]
__version__ = "0.1.0"

# Lines must stay below this so that one write(2) carries one whole line (docs/sdk_protocol.md).
# Threads of one process never interleave (a lock guards the write). Between processes sharing
# the fd (forked workers), POSIX only promises atomic pipe writes up to PIPE_BUF (4096 bytes on
# Linux); metric lines are normally far below that.
MAX_LINE_BYTES = 64 * 1024 - 1
# On the ranks' shared FIFO many processes write at once: a line must fit in one atomic write.
SHARED_LINE_BYTES = 4096


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.ready = False       # env read and fd checked
        self.fd = None           # int (pipe, FIFO) or _TcpChannel when connected
        self.print = False       # print readable lines when not connected
        self.warned = set()      # one-time warning keys
        self.acked = None        # pid that sent the "remedies" acknowledgement
        self.live = None         # pid that announced it polls for in-process remedies
        self.live_seen = 0       # highest in-process request seq returned by remedy_request()
        self.live_stamp = None   # (mtime_ns, size) of the control file when last read
        self.shared = False      # fd is the ranks' shared FIFO (lines <= SHARED_LINE_BYTES)
        self.rank = None         # this process's rank in a multi-rank job, else None
        self.world = 0           # the job's world size (0: unknown)
        self.last_step = None    # the last logged step (step times are measured between steps)
        self.last_mono = None    # time.monotonic() when last_step was first logged
        self.busy = 0.0          # seconds inside timed() since last_step
        self.timed_used = False  # timed() was used since last_step


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
    explicit = fd is not None
    badenv = False
    if fd is None:
        raw = os.environ.get("INLOOP_METRICS_FD", "").strip()
        if raw:
            try:
                fd = int(raw)
            except ValueError:
                _warn("badenv", "INLOOP_METRICS_FD=%r is not a number; metrics disabled" % raw)
                fd, badenv = None, True
    shared = False
    rank, world = _rank_from_env()
    if not explicit and not badenv and (fd is None or not _is_our_pipe(fd)):
        # Not inherited (torchrun's and multiprocessing's workers close inherited fds; a rank
        # on another host never had it): the number may even name another file of this
        # process. The ranks' channel instead: the FIFO on the supervisor's host, else TCP.
        had_fd = fd is not None
        fd, shared = _open_rank_channel()
        if fd is None and had_fd and not os.environ.get("INLOOP_METRICS_PATH", "").strip():
            _warn("badfd", "metrics pipe fd %s was not inherited; metrics disabled"
                  % os.environ.get("INLOOP_METRICS_FD"))
    elif fd is not None:
        try:
            os.fstat(fd)
        except OSError as e:
            _warn("badfd", "metrics pipe fd %s unusable (%s); metrics disabled" % (fd, e))
            fd = None
    if print is None:
        print = _truthy(os.environ.get("INLOOP_PRINT", ""))
    # Publish the finished state last: other threads read it without the lock.
    _S.shared = shared
    _S.rank, _S.world = rank, world
    _S.fd = fd
    _S.print = bool(print)
    _S.ready = True
    if fd is not None and rank is not None:
        host = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
        _send({"t": "rank", "rank": rank, "world_size": world, "host": host})
    return fd is not None


def _open_rank_channel():
    """(channel, shared) for a process that did not inherit the pipe: the FIFO of
    INLOOP_METRICS_PATH on the supervisor's host (shared: lines within PIPE_BUF), else the TCP
    socket of INLOOP_RANKS_ADDR (a _TcpChannel); (None, False) when neither is there."""
    path = os.environ.get("INLOOP_METRICS_PATH", "").strip()
    addr = os.environ.get("INLOOP_RANKS_ADDR", "").strip()
    token = os.environ.get("INLOOP_RANKS_TOKEN", "").strip()
    sup_host = os.environ.get("INLOOP_RANKS_HOST", "").strip()
    tcp = bool(addr and token)
    remote = bool(sup_host) and sup_host != socket.gethostname()
    if path and not remote:
        if _S.shared and isinstance(_S.fd, int):  # init() again: keep the FIFO open
            return _S.fd, True
        fd = _open_fifo(path, quiet=tcp)
        if fd is not None:
            return fd, True
    if tcp:
        if isinstance(_S.fd, _TcpChannel):  # init() again: keep the connection
            return _S.fd, False
        return _TcpChannel(addr, token), False
    if path and remote:  # no socket to use ([run] ranks_listen = "off"): the FIFO may still be
        fd = _open_fifo(path)  # reachable (a container with a hostname of its own)
        if fd is not None:
            return fd, True
    return None, False


def _env_int(names):
    for name in names:
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                return int(raw)
            except ValueError:
                return None
    return None


def _rank_from_env():
    """(rank, world size) of a multi-rank job's process; rank None when this is not one (no
    rank variable, or a world of one: a single process keeps its messages exactly as before)."""
    rank = _env_int(("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"))
    world = _env_int(("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE")) or 0
    if rank is None or rank < 0 or (world <= 1 and rank == 0):
        return None, 0
    return rank, max(world, 0)


def _is_our_pipe(fd):
    """Whether fd is the pipe the supervisor gave (INLOOP_METRICS_FD_INO names its inode)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    if not stat.S_ISFIFO(st.st_mode):
        return False
    ino = os.environ.get("INLOOP_METRICS_FD_INO", "").strip()
    return not ino or ino == str(st.st_ino)


def _open_fifo(path, quiet=False):
    try:
        # O_NONBLOCK only for the open (it fails at once if nobody reads), then blocking writes
        # like the pipe's.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        os.set_blocking(fd, True)
        return fd
    except OSError as e:
        if not quiet:  # quiet: TCP is the way left
            _warn("badfifo", "cannot open the supervisor's channel %s (%s); metrics disabled"
                  % (path, e))
        return None


RANKS_HELLO = "inloop-ranks/1"
_TCP_CONNECT_SECONDS = 2.0   # a supervisor that is gone costs a training step at most this...
_TCP_SEND_SECONDS = 5.0      # ...or this, while a send waits on a full socket
_TCP_MAX_FAILURES = 8        # failed connections in a row before the SDK gives up
_TCP_STEADY_SECONDS = 60.0   # a connection up this long counts as good: the backoff starts over


class _TcpChannel:
    """The ranks' TCP channel (docs/sdk_protocol.md "Ranks"): a rank on another host connects to
    the supervisor's INLOOP_RANKS_ADDR, presents INLOOP_RANKS_TOKEN, then sends the very lines it
    would write to the FIFO. Connects lazily; after a failure the next message waits out a
    backoff (0.5 s doubling to 30 s; messages meanwhile are dropped), and after
    _TCP_MAX_FAILURES failures in a row it gives up with a warning, like a broken pipe. Each
    process (a forked worker too) has its own connection. Called under _S.lock."""

    def __init__(self, addr, token):
        host, _, port = addr.rpartition(":")
        self.host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            self.port = int(port)
        except ValueError:
            self.port = 0
        self.token = token
        self.addr = addr
        self.sock = None
        self.pid = os.getpid()
        self.rank_line = None    # the "rank" hello, sent again on every new connection
        self.failures = 0        # failed connections in a row
        self.next_try = 0.0
        self.up_since = 0.0
        self.dropped = 0         # messages dropped while not connected

    def _close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def _failed(self, why):
        self._close()
        now = time.monotonic()
        if self.up_since and now - self.up_since >= _TCP_STEADY_SECONDS:
            self.failures = 0
        self.up_since = 0.0
        self.failures += 1
        if self.failures >= _TCP_MAX_FAILURES:
            raise OSError("the supervisor's socket %s: %s, %d times in a row"
                          % (self.addr, why, self.failures))
        self.next_try = now + min(30.0, 0.5 * 2 ** (self.failures - 1))
        _warn("tcpretry", "the supervisor's socket %s failed (%s); retrying with a backoff, "
              "metrics meanwhile are dropped" % (self.addr, why))

    def _connect(self):
        sock = socket.create_connection((self.host, self.port), timeout=_TCP_CONNECT_SECONDS)
        try:
            sock.settimeout(_TCP_SEND_SECONDS)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            hello = ("%s %s\n" % (RANKS_HELLO, self.token)).encode("utf-8")
            sock.sendall(hello + (self.rank_line or b""))
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.up_since = time.monotonic()

    def send(self, data, is_rank_line=False):
        """Sends one line; False when it was dropped. Raises OSError once it gives up."""
        if self.pid != os.getpid():  # a forked child: the parent's connection is not its own
            self._close()  # (closes the child's copy of the descriptor only)
            self.pid = os.getpid()
            self.failures, self.next_try, self.up_since = 0, 0.0, 0.0
        if is_rank_line:
            self.rank_line = data
        if self.sock is None:
            if time.monotonic() < self.next_try:
                self.dropped += 1
                return False
            try:
                self._connect()
            except OSError as e:
                self._failed("cannot connect: %s" % e)
                return False
            if is_rank_line:
                return True  # the hello carried it
        try:
            self.sock.sendall(data)
            return True
        except OSError as e:
            self._failed(str(e))
            return False


def rank():
    """This process's rank in a multi-rank job (RANK / SLURM_PROCID / OMPI_COMM_WORLD_RANK with a
    world size > 1), else 0."""
    _ensure()
    return _S.rank or 0


@contextlib.contextmanager
def timed():
    """Times the part of a step this rank does alone (data loading, forward, local compute): the
    seconds spent inside it since the last step become the rank's step time, which the
    supervisor compares across ranks (straggler findings). Leave collectives (all-reduce,
    barrier) outside: there every rank waits for the slowest, so they hide who is slow. Without
    timed() a rank's step time is its step cadence (seconds between logged steps). Nestable and
    cheap; a no-op outside a multi-rank job."""
    t0 = time.monotonic()
    try:
        yield
    finally:
        _S.busy += time.monotonic() - t0
        _S.timed_used = True


def _step_time(step):
    """The rank's step time to send with a log of `step`: on the first log of a new step, the
    seconds inside timed() since the previous step (else the time since it, per step)."""
    now = time.monotonic()
    prev, prev_t = _S.last_step, _S.last_mono
    if step is None or (prev is not None and step <= prev):
        if prev is not None and step is not None and step < prev:  # a rollback: start over
            _S.last_step, _S.last_mono, _S.busy, _S.timed_used = step, now, 0.0, False
        return None
    out = None
    if prev is not None:
        if _S.timed_used:
            out = _S.busy if _S.busy > 0 else None
        elif prev_t is not None and now > prev_t:
            out = (now - prev_t) / (step - prev)
    _S.last_step, _S.last_mono, _S.busy, _S.timed_used = step, now, 0.0, False
    return out


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
    if _S.rank is not None and "rank" not in obj:
        obj = dict(obj, rank=_S.rank)
    try:
        data = (json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
                + "\n").encode("utf-8")
    except (TypeError, ValueError) as e:  # should not happen: values are sanitised before
        _warn("encode", "could not encode a message (%s); dropped" % e)
        return False
    if len(data) > (SHARED_LINE_BYTES if _S.shared else MAX_LINE_BYTES):
        _warn("toolong:" + str(obj.get("t")),
              "a %r message of %d bytes exceeds the 64 KiB line limit; dropped"
              % (obj.get("t"), len(data)))
        return False
    try:
        with _S.lock:
            if isinstance(fd, _TcpChannel):
                return fd.send(data, obj.get("t") == "rank")
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


def _send_log(step, vals, extra=None):
    """One log message, or several with the same step when the metrics do not fit in one line
    (per-task evaluation rows carry thousands of keys): nothing is dropped for size. `extra`
    (rank, step_time) goes with every part but step_time only with the first."""
    msg = {"t": "log"}
    if step is not None:
        msg["step"] = step
    if extra:
        msg.update(extra)
    msg["metrics"] = vals
    try:
        size = len(json.dumps(msg, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
                   .encode("utf-8"))
    except (TypeError, ValueError):
        size = 0
    if size <= (SHARED_LINE_BYTES if _S.shared else MAX_LINE_BYTES) or len(vals) < 2:
        _send(msg)
        return
    items = list(vals.items())
    half = len(items) // 2
    rest = {k: v for k, v in (extra or {}).items() if k != "step_time"}
    _send_log(step, dict(items[:half]), extra)
    _send_log(step, dict(items[half:]), rest)


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
            extra = None
            if _S.rank is not None:
                extra = {"rank": _S.rank}
                st = _step_time(step)
                if st is not None and math.isfinite(st) and st > 0:
                    extra["step_time"] = st
            if not vals:
                return
            _flush_batches()  # the records a step read reach the supervisor before its loss
            _send_log(step, vals, extra)
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


def tags(*names, **pairs):
    """Tag the run: plain names ("baseline") and key=value pairs (team="nlp" -> "team=nlp").
    Tags are labels for finding runs (`inloop runs`, the dashboard's filter), not parameters."""
    try:
        _ensure()
        if _S.fd is None:
            return
        out = []
        for n in names:
            if isinstance(n, (list, tuple, set)):
                out.extend(str(x) for x in n)
            elif n is not None:
                out.append(str(n))
        out.extend("%s=%s" % (k, v) for k, v in pairs.items())
        out = [t for t in out if t]
        if out:
            _send({"t": "tags", "tags": out})
    except Exception as e:
        _warn("tagsexc", "tags() failed (%s)" % e)


_PATHLIKE = (str, bytes, os.PathLike)


def checkpoint(path, step=None):
    """Announce a checkpoint that is completely written (so the supervisor may resume from it).

    `checkpoint(path, step)`; the older order `checkpoint(step, path)` is recognised (a
    non-path first argument followed by a path) and still works."""
    try:
        if not isinstance(path, _PATHLIKE) and isinstance(step, _PATHLIKE):
            path, step = step, path
        _ensure()
        if _S.fd is None:
            return
        msg = {"t": "checkpoint"}
        if step is not None:
            try:
                msg["step"] = int(step)
            except Exception:
                _warn("badstep", "step %r is not an integer; sent without a step" % (step,))
        p = os.fspath(path)
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        msg["path"] = os.path.abspath(p)
        _send(msg)
    except Exception as e:
        _warn("ckptexc", "checkpoint() failed (%s)" % e)


def _acknowledge():
    """Once per process: tell the supervisor this process reads its remedy instructions."""
    try:
        _ensure()
        if _S.fd is None or _S.acked == os.getpid():
            return
        _S.acked = os.getpid()
        try:
            attempt = int(os.environ.get("INLOOP_ATTEMPT", "1"))
        except ValueError:
            attempt = 1
        _send({"t": "remedies", "attempt": attempt})
    except Exception:
        pass


def control():
    """The supervisor's instructions: the JSON object in the file named by INLOOP_CONTROL, read
    fresh on every call; {} when unset, missing or unreadable (a one-time warning when the file
    exists but is not a JSON object). Under `inloop run` the first call also tells the supervisor
    (one {"t": "remedies"} line) that this process reads its remedies, so a rollback's skip window
    is known to reach it."""
    _acknowledge()
    path = os.environ.get("INLOOP_CONTROL")
    if not path:
        return {}
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except Exception as e:
        _warn("control", "could not read control file %s (%s); ignored" % (path, e))
        return {}
    if not isinstance(data, dict):
        _warn("control", "control file %s holds a %s, not a JSON object; ignored"
              % (path, type(data).__name__))
        return {}
    return data


# ----------------------------------------------------------------------------- remedies

class _Bad(Exception):
    pass


def _as_int(v):
    """int from an int, an integral float or a decimal string; bool and anything else is bad."""
    if isinstance(v, bool):
        raise _Bad()
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v):
            return int(v)
        raise _Bad()
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            raise _Bad()
    raise _Bad()


def _conv_resume(v):
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    if not isinstance(v, str):
        raise _Bad()
    return v if v.strip() else None


def _conv_lr_scale(v):
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise _Bad()
    try:
        f = float(v)
    except ValueError:
        raise _Bad()
    if not math.isfinite(f) or f <= 0:
        raise _Bad()
    return f


def _conv_positive_int(v):
    n = _as_int(v)
    if n < 1:
        raise _Bad()
    return n


def _one_window(w, where):
    """(S, T) from [S, T] / (S, T) / "S:T" / {"from": S, "to": T}; None (with a one-time
    warning) when malformed or empty (T <= S)."""
    try:
        if isinstance(w, str):
            parts = w.split(":")
            if len(parts) != 2:
                raise _Bad()
            s, t = _as_int(parts[0]), _as_int(parts[1])
        elif isinstance(w, dict):
            s, t = _as_int(w["from"]), _as_int(w["to"])
        elif isinstance(w, (list, tuple)) and len(w) == 2:
            s, t = _as_int(w[0]), _as_int(w[1])
        else:
            raise _Bad()
    except (_Bad, KeyError):
        _warn("window:%s:%r" % (where, w), "ignoring malformed skip window %r in %s" % (w, where))
        return None
    if t <= s:
        _warn("window:%s:%r" % (where, w), "ignoring empty skip window %r in %s (T <= S)"
              % (w, where))
        return None
    return (s, t)


def _windows(items, where):
    out = []
    for w in items:
        win = _one_window(w, where)
        if win is not None:
            out.append(win)
    return out


def _env_windows(raw):
    return _windows([p.strip() for p in raw.split(",") if p.strip()], "INLOOP_SKIP")


def remedies():
    """What the supervisor asks of this (restarted) process, merged control file > environment:

        {"resume_from": str or None,    # control "resume_from"   / INLOOP_RESUME_FROM
         "skip_windows": [(S, T), ...], # control "skip_windows" (else "skip") / INLOOP_SKIP
         "lr_scale": float or None,     # control "lr_scale"      / INLOOP_LR_SCALE
         "micro_batch": int or None,    # control "micro_batch"   / INLOOP_MICRO_BATCH
         "attempt": int}                # control "attempt"       / INLOOP_ATTEMPT, default 1

    Skip windows are half-open step windows [S, T) in the order they were applied (see
    data_index); windows with T <= S are dropped. A missing or null value falls through to the
    next source; a malformed one is ignored (one warning on stderr) and falls through too.
    Read fresh on every call; never raises."""
    out = {"resume_from": None, "skip_windows": [], "lr_scale": None, "micro_batch": None,
           "attempt": 1}
    try:
        ctl = control()
        env = os.environ
        for key, env_key, conv in (("resume_from", "INLOOP_RESUME_FROM", _conv_resume),
                                   ("lr_scale", "INLOOP_LR_SCALE", _conv_lr_scale),
                                   ("micro_batch", "INLOOP_MICRO_BATCH", _conv_positive_int),
                                   ("attempt", "INLOOP_ATTEMPT", _conv_positive_int)):
            sources = []
            if ctl.get(key) is not None:
                sources.append(("control file key %r" % key, ctl[key]))
            if env.get(env_key, "").strip() != "":
                sources.append((env_key, env[env_key]))
            for where, raw in sources:
                try:
                    val = conv(raw)
                except _Bad:
                    _warn("remedy:%s:%s" % (where, raw), "ignoring malformed %s=%r" % (where, raw))
                    continue
                if val is not None:
                    out[key] = val
                    break
        # Skip windows: the control file's list, else its single newest window, else the env.
        wins = None
        sw = ctl.get("skip_windows")
        if sw is not None:
            if isinstance(sw, (list, tuple)) and not (len(sw) == 2 and
                                                       all(isinstance(x, int) for x in sw)):
                wins = _windows(sw, "control file key 'skip_windows'")
            elif isinstance(sw, (list, tuple)):   # a bare [S, T] where a list of pairs belongs
                wins = _windows([sw], "control file key 'skip_windows'")
            else:
                _warn("remedy:skip_windows:%r" % (sw,),
                      "ignoring malformed control file key 'skip_windows'=%r" % (sw,))
        if wins is None and ctl.get("skip") is not None:
            win = _one_window(ctl["skip"], "control file key 'skip'")
            if win is not None:
                wins = [win]
        if wins is None and env.get("INLOOP_SKIP", "").strip() != "":
            wins = _env_windows(env["INLOOP_SKIP"])
        out["skip_windows"] = wins or []
    except Exception as e:  # never raise into training code
        _warn("remediesexc", "remedies() failed (%s)" % e)
    return out


def remedy_request():
    """An in-process remedy the supervisor asks of this running process, or None. Cheap enough
    to call every step (one stat of the control file). The first call tells the supervisor that
    this process applies remedies in place: from then on a rollback or lr cut is asked of it
    instead of restarting it (it is still restarted if it does not apply the request within
    [remedy] in_process_timeout_seconds). A request is returned once:

        {"seq": int, "action": "rollback_skip" | "lr_cut",
         "resume_from": str or None,    # the checkpoint to load (announced with checkpoint())
         "resume_step": int,            # the step that checkpoint holds; continue at +1
         "skip_windows": [(S, T), ...], # every window in effect now, as remedies() gives them
         "lr_scale": float or None,     # the learning-rate scale in effect now (None: 1)
         "micro_batch": int or None}

    Apply it (load the checkpoint, set the step, move the data on with data_index), then call
    remedy_applied(req) before logging the next step. Never raises."""
    try:
        _ensure()
        if _S.fd is None:
            return None
        pid = os.getpid()
        if _S.live != pid:
            _S.live = pid
            _acknowledge()
            _send({"t": "live"})
        path = os.environ.get("INLOOP_CONTROL")
        if not path:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == _S.live_stamp:
            return None
        _S.live_stamp = stamp
        live = control().get("live")
        if not isinstance(live, dict):
            return None
        try:
            seq = _as_int(live.get("seq"))
            resume_step = _as_int(live.get("resume_step"))
        except _Bad:
            _warn("live:%r" % (live,), "ignoring a malformed in-process request %r" % (live,))
            return None
        if seq <= _S.live_seen:
            return None
        _S.live_seen = seq
        out = {"seq": seq, "action": str(live.get("action", "")), "resume_from": None,
               "resume_step": resume_step, "skip_windows": [], "lr_scale": None,
               "micro_batch": None}
        for key, conv in (("resume_from", _conv_resume), ("lr_scale", _conv_lr_scale),
                          ("micro_batch", _conv_positive_int)):
            if live.get(key) is not None:
                try:
                    out[key] = conv(live[key])
                except _Bad:
                    _warn("live:%s" % key, "ignoring malformed %s=%r in the in-process request"
                          % (key, live[key]))
        sw = live.get("skip_windows")
        if isinstance(sw, (list, tuple)):
            out["skip_windows"] = _windows(sw, "the in-process request's skip_windows") or []
        return out
    except Exception as e:
        _warn("liveexc", "remedy_request() failed (%s)" % e)
        return None


def remedy_applied(request):
    """Tell the supervisor that the in-process request returned by remedy_request() is applied:
    the run is then judged from request["resume_step"] on, with no restart. Never raises."""
    try:
        seq = int(request["seq"]) if isinstance(request, dict) else int(request)
        _ensure()
        if _S.fd is not None and seq > 0:
            _send({"t": "remedy_applied", "seq": seq})
    except Exception as e:
        _warn("appliedexc", "remedy_applied() failed (%s)" % e)


def _clean_windows(windows):
    out = []
    for w in windows or ():
        try:
            s, t = int(w[0]), int(w[1])
        except Exception:
            _warn("window:arg:%r" % (w,), "ignoring malformed skip window %r" % (w,))
            continue
        if t > s:
            out.append((s, t))
    return out


def data_index(step, windows):
    """The data batch index that step `step` trains on, given skip windows [S, T) in the order
    they were applied: skipping [S, T) makes step S train on the batch step T would have had,
    and so on (the step counter stays continuous, the data moves on). A later window is in steps
    of the timeline the earlier ones made. data_index(k, []) == k; strictly increasing in k."""
    k = int(step)
    for s, t in reversed(_clean_windows(windows)):
        if k >= s:
            k += t - s
    return k


def skip_data(iterable, start_step=1, windows=None, first_index=None):
    """Wrap a training loop's batch iterable so the skip windows are honoured in one line:

        for step, batch in inloop.skip_data(loader, start_step=start):

    `iterable` yields the batches of consecutive data indices, its first one being `first_index`
    (default: data_index(start_step, windows), i.e. a loader positioned for the resumed step).
    Yields (step, item) for step = start_step, start_step + 1, ...: the item whose data index is
    data_index(step, windows); the items in skipped windows are read and discarded. Ends when
    the iterable ends. `windows` defaults to remedies()["skip_windows"]."""
    if windows is None:
        windows = remedies()["skip_windows"]
    windows = _clean_windows(windows)
    start_step = int(start_step)
    if first_index is None:
        first_index = data_index(start_step, windows)
    return _skip_data(iter(iterable), start_step, windows, int(first_index))


def _skip_data(it, step, windows, index):
    want = data_index(step, windows)
    if want < index:
        _warn("skipdata:first",
              "skip_data: the iterable starts at data index %d but step %d trains on index %d; "
              "steps before the first available batch are left out" % (index, step, want))
        while want < index:
            step += 1
            want = data_index(step, windows)
    for item in it:
        if index == want:
            yield step, item
            step += 1
            want = data_index(step, windows)
        index += 1


# ----------------------------------------------------------------------------- datasets
# Self-contained: the data pipelines' link to training (docs/data.md). One message,
# {"t": "dataset", "name": NAME, "path": ABSPATH}; the supervisor records it as a "data_read"
# event with the version the pipeline's manifest knows for that file.

def dataset(name, path):
    """Record that this run reads the dataset `name` at `path` (a file the data pipeline wrote,
    or any other). `inloop data lineage PATH` lists the runs that did, with the version read.
    Returns the absolute path, so `open(inloop.dataset("train", p))` reads what was recorded."""
    try:
        p = os.fspath(path)
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        p = os.path.abspath(p)
        _ensure()
        if _S.fd is not None:
            _send({"t": "dataset", "name": str(name), "path": p})
        return p
    except Exception as e:
        _warn("datasetexc", "dataset() failed (%s)" % e)
        return path


__all__.append("dataset")


# ----------------------------------------------------------------------------- data index
# Which records each data batch consumed, so a skipped window's data can be traced (docs/data.md,
# "Which records a batch read"). batch() buffers; the buffer goes out as one
# {"t": "batches", "dataset": NAME, "batches": [[INDEX, [[LO, HI], ...]], ...]} line (record
# numbers as half-open ranges) before every log() line, every _BATCH_FLUSH indices, and at exit.

_BATCH_FLUSH = 64
_BATCH_MAX_RANGES = 2000
_batches = {"dataset": None, "items": [], "ranges": 0}


def _ranges(ids):
    out = []
    for x in sorted(set(int(i) for i in ids)):
        if x < 0:
            continue
        if out and x == out[-1][1]:
            out[-1][1] = x + 1
        else:
            out.append([x, x + 1])
    return out


def _flush_batches():
    b = _batches
    if not b["items"]:
        return
    items, dataset = b["items"], b["dataset"]
    b["items"], b["ranges"] = [], 0
    _send({"t": "batches", "dataset": dataset or "", "batches": items})


def batch(index, ids, dataset=None):
    """Record that data batch `index` (the data index: the step when nothing was skipped,
    data_index(step, windows) otherwise) consumed the records `ids` of `dataset` (a name given
    to dataset(); default the one declared last). Records are 0-based record numbers of that
    file: record i is line i+1 of a JSONL or text file. `ids`: ints, or (lo, hi) half-open
    ranges of them; RecordIndex maps token / byte offsets to records. Cheap enough for every
    step: buffered, sent before the next log(). A no-op outside `inloop run`. Never raises."""
    try:
        _ensure()
        if _S.fd is None:
            return
        ids = list(ids)
        if ids and isinstance(ids[0], (tuple, list)):
            flat = []
            for lo, hi in ids:
                flat.extend(range(int(lo), int(hi)))
            ids = flat
        rs = _ranges(ids)
        name = None if dataset is None else str(dataset)
        if _batches["items"] and name != _batches["dataset"]:
            _flush_batches()
        _batches["dataset"] = name
        _batches["items"].append([int(index), rs])
        _batches["ranges"] += len(rs)
        if len(_batches["items"]) >= _BATCH_FLUSH or _batches["ranges"] >= _BATCH_MAX_RANGES:
            _flush_batches()
    except Exception as e:
        _warn("batchexc", "batch() failed (%s)" % e)


class RecordIndex:
    """Offsets -> record numbers, for a shard built by concatenating records (a tokenized text,
    a token array): the index file holds, as little-endian uint64, the offset where each record
    starts (record i at starts[i], in whatever unit the reader counts: characters, bytes,
    tokens). records(spans) maps [lo, hi) offset spans a batch read to the record numbers they
    overlap, for batch():

        idx = inloop.RecordIndex("out/train.idx")
        inloop.batch(index, idx.records([(p, p + seq_len + 1) for p in positions]))"""

    def __init__(self, path):
        from array import array
        self.starts = array("Q")
        with open(path, "rb") as f:
            self.starts.frombytes(f.read())
        if sys.byteorder != "little":
            self.starts.byteswap()

    def record_of(self, offset):
        import bisect
        return max(0, bisect.bisect_right(self.starts, int(offset)) - 1)

    def records(self, spans):
        out = set()
        for lo, hi in spans:
            a, b = self.record_of(lo), self.record_of(max(int(lo), int(hi) - 1))
            out.update(range(a, b + 1))
        return sorted(out)


def _flush_at_exit():
    try:
        _flush_batches()
    except Exception:
        pass


import atexit  # noqa: E402

atexit.register(_flush_at_exit)
__all__ += ["batch", "RecordIndex"]
