#!/usr/bin/env python3
# The example workload for inloop: a tiny character-level transformer trained on CPU on the bundled
# public-domain text (data/input.txt). Owns: training, metrics through the inloop SDK plus a human
# line on stdout, atomic checkpoints with resume, the supervisor's remedies read through
# inloop.remedies() (resume, skip data windows, lr scale, micro-batch) and fault injection
# (--inject KIND@STEP: NaN, loss spike, native crash, hang, CUDA OOM, slow steps).
"""Train a tiny char-level transformer.

    /usr/bin/python3 examples/charlm/train.py --out /tmp/ck            # ~1 minute on 2 cores
    /usr/bin/python3 examples/charlm/train.py --steps 30 --out /tmp/ck # a few seconds
    /usr/bin/python3 examples/charlm/train.py --inject nan@40,crash@90 --inject slow@120

Remedies (a flag wins over the control file, which wins over the environment; the control file
and the environment are read through inloop.remedies()):
  --resume PATH       INLOOP_RESUME_FROM   control {"resume_from": PATH}
                      PATH: a checkpoint, a directory (its newest checkpoint) or "auto" (newest in
                      --out, else a fresh start). Restores model, optimiser, RNG, step; continues at
                      step+1. Checkpoints of the abandoned future (step > resumed step) in --out are
                      deleted so "newest" always means newest on the live timeline.
  --lr-scale F        INLOOP_LR_SCALE      control {"lr_scale": F}
  --skip-from S --skip-to T   INLOOP_SKIP="S:T[,S2:T2...]"   control {"skip_windows": [[S, T], ..]}
                      The batch of data index i is drawn from a generator seeded by (seed, i)
                      (--data-order sequential: the i-th stretch of the text in file order).
                      Skipping [S, T) means step S trains on the batch step T would have had, and so
                      on (the step counter stays continuous, the data moves on: PaLM's remedy).
                      Several windows apply in order (inloop.data_index). The flag gives one window
                      and replaces the supervisor's; the supervisor's windows that the checkpoint
                      does not hold yet are appended in order.
  --micro-batch M     INLOOP_MICRO_BATCH   control {"micro_batch": M}
                      Gradient accumulation: the step's batch is cut in pieces of M rows, so the
                      effective batch (and the data) stay the same.
Data index: --records FILE --record-index IDX (examples/datapipe's out/corpus.jsonl and
out/train.idx) makes every step tell inloop which records of FILE its batch read
(inloop.batch), so a report can say what was special about the data of a skipped window; a
resumed process also names the records of the batches its skip windows leave out.
--data-order sequential reads the text in file order instead of drawing rows at random, so a
contiguous block of bad records fills a window of consecutive steps (examples/datapipe/spike.toml).
Skip windows, lr scale and micro-batch are stored in checkpoints, so a later resume without them
keeps them (a new value replaces the stored one; skip windows add up).

Faults: --inject KIND@STEP, repeatable and comma-separated (--inject nan@40,crash@90). Each fires
at most once per process, so a remedy can succeed:
  nan@K    the loss of the data batch of step K (data index K) is multiplied by NaN before
           backward: weights turn NaN from then on. A bad batch: a plain resume hits it again,
           a rollback that skips its window does not.
  spike@K  a real bad update on the data batch of step K: its targets are replaced by random
           tokens (generator seeded by (seed, K)) and that step's learning rate is multiplied by
           --spike-factor (30; grad clipping as configured). The logged loss at K is the real loss
           on the corrupted batch, and the damaged weights keep the loss up for the next steps.
           The logged "lr" stays the schedule's (a bad batch does not show in the lr either).
           Same data semantics as nan.
  crash@K  a real native crash at step K: a segfault (SIGSEGV, exit status -11), with
           faulthandler's "Fatal Python error: Segmentation fault" and the Python stack on stderr.
           Transient: not in a resumed process nor in a supervisor attempt > 1.
  hang@K   prints "step K | (injected hang)" and sleeps forever (transient, like crash).
  oom@K    raises a real torch.cuda.OutOfMemoryError (the CUDA allocator's message) at step K while
           the micro-batch is above --oom-max-micro-batch (default batch_size // 2): a plain
           resume hits it again, shrinking the micro-batch cures it.
  slow@K   steps K .. K+--slow-steps-1 (30) each sleep (--slow-factor - 1) x their own compute
           time (factor 4.0), so tokens_per_s really drops (transient, like crash).
  --faults-persist: crash, hang and slow also fire in resumed processes and later attempts, and
           nan / spike fire at step K whatever data it trains on (so no remedy cures them).
"""

import argparse
import ctypes
import faulthandler
import glob
import json
import math
import os
import random
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

try:
    import inloop
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "python"))
    import inloop

import torch
import torch.nn as nn
import torch.nn.functional as F

CKPT_RE = re.compile(r"^ckpt-(\d{7})\.pt$")
KEEP_CKPTS = 3
FAULT_KINDS = ("nan", "spike", "crash", "hang", "oom", "slow")


# ----------------------------------------------------------------------------- arguments

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(HERE, "data", "input.txt"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--warmup", type=int, default=20, help="linear warm-up steps")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16",
                   help="bf16: autocast matmuls to bfloat16 (oneDNN; far faster on CPU than "
                        "Debian's reference BLAS), weights and optimiser stay fp32")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--grad-clip", type=float, default=1.0, help="0 disables clipping")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--out", default="checkpoints/")
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-batches", type=int, default=8)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--resume", default=None, help="checkpoint, directory, or 'auto'")
    p.add_argument("--lr-scale", type=float, default=None)
    p.add_argument("--skip-from", type=int, default=None)
    p.add_argument("--skip-to", type=int, default=None)
    p.add_argument("--micro-batch", type=int, default=None)
    p.add_argument("--inject", action="append", default=[], metavar="KIND@STEP",
                   help="inject a fault: KIND in %s; repeatable and comma-separated "
                        "(nan@40,crash@90)" % ", ".join(FAULT_KINDS))
    p.add_argument("--spike-factor", type=float, default=30.0,
                   help="lr multiplier of the spike step (default 30)")
    p.add_argument("--oom-max-micro-batch", type=int, default=None,
                   help="oom fires while the micro-batch is above this (default batch_size // 2)")
    p.add_argument("--slow-steps", type=int, default=30,
                   help="how many steps slow@K slows (default 30)")
    p.add_argument("--slow-factor", type=float, default=4.0,
                   help="slow steps last this many times their compute (default 4)")
    p.add_argument("--faults-persist", action="store_true",
                   help="crash/hang/slow also fire in resumed processes and later attempts; "
                        "nan/spike fire at their step whatever the data")
    p.add_argument("--sleep-per-step", type=float, default=0.0)
    p.add_argument("--data-order", choices=("random", "sequential"), default="random",
                   help="random (default): each batch's rows drawn at random from the whole text; "
                        "sequential: the text in file order, batch after batch (a stretch of "
                        "bad records then fills a window of consecutive steps)")
    p.add_argument("--records", default=None,
                   help="the records file --data was built from (JSONL or text lines); with "
                        "--record-index, each step tells inloop which records it trained on")
    p.add_argument("--record-index", default=None,
                   help="little-endian uint64: the character offset in --data where each record "
                        "starts (examples/datapipe writes out/train.idx)")
    args = p.parse_args(argv)
    if (args.records is None) != (args.record_index is None):
        p.error("--records and --record-index go together")
    if (args.skip_from is None) != (args.skip_to is None):
        p.error("--skip-from and --skip-to go together")
    if args.skip_from is not None and args.skip_to <= args.skip_from:
        p.error("--skip-to must be greater than --skip-from")
    try:
        args.faults = parse_inject(args.inject)
    except ValueError as e:
        p.error(str(e))
    return args


def parse_inject(specs):
    """["nan@40,crash@90", "slow@5"] -> {"nan": [40], "crash": [90], "slow": [5]}."""
    faults = {}
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            kind, sep, step = part.partition("@")
            kind = kind.strip().lower()
            if not sep or kind not in FAULT_KINDS:
                raise ValueError("--inject %r: expected KIND@STEP with KIND in %s"
                                 % (part, ", ".join(FAULT_KINDS)))
            try:
                k = int(step)
            except ValueError:
                raise ValueError("--inject %r: STEP must be an integer" % part)
            if k < 1:
                raise ValueError("--inject %r: STEP must be >= 1" % part)
            faults.setdefault(kind, [])
            if k not in faults[kind]:
                faults[kind].append(k)
    for steps in faults.values():
        steps.sort()
    return faults


def resolve_remedies(args):
    """Flag > control file > environment (the last two merged by inloop.remedies())."""
    r = inloop.remedies()
    resume = args.resume if args.resume is not None else r["resume_from"]
    lr_scale = args.lr_scale if args.lr_scale is not None else r["lr_scale"]
    micro = args.micro_batch if args.micro_batch is not None else r["micro_batch"]
    if args.skip_from is not None:
        skips = [(args.skip_from, args.skip_to)]
    else:
        skips = list(r["skip_windows"])
    return resume, lr_scale, micro, skips, r["attempt"]


# ----------------------------------------------------------------------------- data

def load_text(path, order="random"):
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    if order == "sequential":
        # The last 10% is held out (a corpus in file order holds out its tail), so the training
        # text is one contiguous stretch of the file: a block of records stays whole.
        n_val = max(1, len(ids) // 10)
        return chars, ids[:-n_val], ids[-n_val:]
    # 90/10 split by interleaved 1 KiB blocks (every 10th to validation), so both halves hold
    # verse and prose alike.
    block = 1024
    train_parts, val_parts = [], []
    for i, start in enumerate(range(0, len(ids), block)):
        (val_parts if i % 10 == 9 else train_parts).append(ids[start:start + block])
    return chars, torch.cat(train_parts), torch.cat(val_parts)


def batch_positions(data, index, batch_size, seq_len, seed, order="random"):
    """Where the rows of data batch `index` start in `data`. "random": drawn by a generator
    seeded by (seed, index). "sequential": the text in file order, batch after batch, as a
    pretraining loader reads a pre-shuffled token stream: batch i (1-based) holds rows
    (i-1)*batch_size .. i*batch_size-1 of seq_len characters each, so consecutive data indices
    read consecutive text and a contiguous stretch of records lands in a contiguous window of
    steps; after the last whole row the next epoch starts over."""
    if order == "sequential":
        n_rows = (len(data) - 1) // seq_len
        if n_rows < 1:
            raise SystemExit("error: --data holds fewer than --seq-len + 1 training characters")
        first = (index - 1) * batch_size
        return torch.tensor([((first + r) % n_rows) * seq_len for r in range(batch_size)])
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + index)
    return torch.randint(len(data) - seq_len - 1, (batch_size,), generator=g)


def text_spans(p, n, block=1024, order="random"):
    """The [lo, hi) character spans of the text file behind train positions [p, p + n):
    load_text keeps blocks i with i % 10 != 9 for training, in order (sequential: the file's
    first 90%, as it is)."""
    if order == "sequential":
        return [(p, p + n)]
    out = []
    while n > 0:
        k, r = divmod(p, block)
        take = min(n, block - r)
        t = (k + k // 9) * block + r
        out.append((t, t + take))
        p, n = p + take, n - take
    return out


def batch_records(index_file, positions, seq_len, order="random"):
    """The records (0-based) the rows starting at `positions` read, inputs and targets."""
    spans = []
    for p in positions:
        spans.extend(text_spans(p, seq_len + 1, order=order))
    return index_file.records(spans)


def skipped_indices(windows):
    """The data indices the skip windows leave out: window j skips data_index(s, windows[:j])
    for s in [from_j, to_j) (the windows compose as inloop.data_index composes them)."""
    out = set()
    for j, (s, t) in enumerate(windows):
        out.update(inloop.data_index(k, windows[:j]) for k in range(s, t))
    return sorted(out)


def get_batch(data, index, batch_size, seq_len, seed, order="random"):
    ix = batch_positions(data, index, batch_size, seq_len, seed, order)
    x = torch.stack([data[i:i + seq_len] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + 1 + seq_len] for i in ix.tolist()])
    return x, y


# ----------------------------------------------------------------------------- model

class Block(nn.Module):
    def __init__(self, n_embd, n_head, seq_len, dropout):
        super().__init__()
        self.n_head = n_head
        self.drop = nn.Dropout(dropout)
        self.ln1 = nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                 nn.Linear(4 * n_embd, n_embd))
        mask = torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, seq_len, seq_len), persistent=False)

    def forward(self, x):
        b, t, c = x.shape
        h = self.n_head
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q = q.view(b, t, h, c // h).transpose(1, 2)
        k = k.view(b, t, h, c // h).transpose(1, 2)
        v = v.view(b, t, h, c // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // h))
        att = att.masked_fill(~self.mask[:, :, :t, :t], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.mlp(self.ln2(x)))


class CharTransformer(nn.Module):
    def __init__(self, vocab, n_layer, n_head, n_embd, seq_len, dropout=0.0):
        super().__init__()
        self.tok = nn.Embedding(vocab, n_embd)
        self.pos = nn.Embedding(seq_len, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, seq_len, dropout)
                                    for _ in range(n_layer))
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab)

    def forward(self, idx, targets=None):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t))
        for blk in self.blocks:
            x = blk(x)
        logits = self.head(self.ln(x)).float()
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def lr_at(step, args, lr_scale):
    base = args.lr * lr_scale
    if step <= args.warmup:
        return base * step / max(1, args.warmup)
    frac = (step - args.warmup) / max(1, args.steps - args.warmup)
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac))))


def autocast(args):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16")


@torch.no_grad()
def evaluate(model, val, args):
    model.eval()
    losses = []
    for i in range(args.eval_batches):
        x, y = get_batch(val, i, args.batch_size, args.seq_len, args.seed + 7919)
        with autocast(args):
            losses.append(model(x, y)[1].item())
    model.train()
    return sum(losses) / len(losses)


# ----------------------------------------------------------------------------- checkpoints

def list_ckpts(out):
    found = []
    for name in os.listdir(out) if os.path.isdir(out) else []:
        m = CKPT_RE.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(out, name)))
    return sorted(found)


def resolve_resume_path(resume, out):
    if resume is None:
        return None
    if resume == "auto":
        found = list_ckpts(out)
        return found[-1][1] if found else None
    if os.path.isdir(resume):
        found = list_ckpts(resume)
        if not found:
            raise SystemExit("error: no checkpoint in %s" % resume)
        return found[-1][1]
    if not os.path.isfile(resume):
        raise SystemExit("error: checkpoint %s not found" % resume)
    return resume


def load_ckpt(path):
    """The checkpoint save_ckpt wrote. weights_only=True: loading never runs code from the file
    (`inloop audit` checks the same); the plain values travel as JSON text beside the tensors."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    meta = json.loads(ck.pop("meta"))
    version, internal, gauss = meta.pop("py_rng")
    ck["py_rng"] = (version, tuple(internal), gauss)
    ck["optimizer"] = {"state": ck.pop("optimizer_state"), "param_groups": meta.pop("param_groups")}
    meta["skip_windows"] = [tuple(w) for w in meta.get("skip_windows", [])]
    ck.update(meta)
    return ck


def remove_stale_temps(out):
    """Temp files of a save that was killed half-way (the checkpoint itself was never renamed)."""
    for tmp in glob.glob(os.path.join(out, "ckpt-*.pt.tmp.*")):
        try:
            os.remove(tmp)
        except OSError:
            pass


def save_ckpt(out, step, model, opt, chars, state):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "ckpt-%07d.pt" % step)
    tmp = path + ".tmp.%d" % os.getpid()
    opt_state = opt.state_dict()
    meta = {"step": step, "chars": chars, "py_rng": random.getstate(),
            "param_groups": opt_state["param_groups"], **state}
    torch.save({
        "model": model.state_dict(),
        "optimizer_state": opt_state["state"],
        "torch_rng": torch.get_rng_state(),
        "meta": json.dumps(meta),
    }, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for _, old in list_ckpts(out)[:-KEEP_CKPTS]:
        try:
            os.remove(old)
        except OSError:
            pass
    inloop.checkpoint(os.path.abspath(path), step)
    return path


# ----------------------------------------------------------------------------- faults

def transient_fault_allowed(args, resumed, attempt):
    """crash / hang / slow fire only in a fresh first attempt, unless --faults-persist."""
    return args.faults_persist or (not resumed and attempt <= 1)


def crash_natively(step):
    """A real segfault: faulthandler (enabled in main) prints "Fatal Python error: Segmentation
    fault" and the stack, then the process dies by SIGSEGV."""
    sys.stdout.flush()
    try:  # a demo crash need not leave a core file of a whole torch process behind
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except Exception:
        pass
    ctypes.string_at(0)


def hang_forever(step):
    print("step %d | (injected hang)" % step, flush=True)
    while True:
        time.sleep(3600)


def cuda_oom():
    return torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total "
        "capacity; 75.02 GiB already allocated; 1.12 GiB free; 76.50 GiB reserved "
        "in total by PyTorch) If reserved memory is >> allocated memory try setting "
        "max_split_size_mb to avoid fragmentation.  See documentation for Memory "
        "Management and PYTORCH_CUDA_ALLOC_CONF")


def random_targets(y, vocab, seed, step):
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + step) * 7 + 3)
    return torch.randint(vocab, y.shape, generator=g, dtype=y.dtype)


class Faults:
    """Which injected fault fires at a step; each fires at most once per process."""

    def __init__(self, args, transient_ok):
        self.f = args.faults
        self.persist = args.faults_persist
        self.transient_ok = transient_ok
        self.slow_steps = max(0, args.slow_steps)
        self.fired = set()

    def _once(self, kind, k):
        if (kind, k) in self.fired:
            return False
        self.fired.add((kind, k))
        return True

    def transient(self, kind, step):
        """crash / hang at this step?"""
        return (self.transient_ok and step in self.f.get(kind, ())
                and self._once(kind, step))

    def bad_batch(self, kind, step, index):
        """nan / spike: the data batch of K (or step K with --faults-persist)."""
        k = step if self.persist else index
        return k in self.f.get(kind, ()) and self._once(kind, k)

    def oom(self, step, micro, oom_max):
        return step in self.f.get("oom", ()) and micro > oom_max and self._once("oom", step)

    def slow(self, step):
        """Is this step inside a slow@K window (each window once per process)?"""
        if not self.transient_ok:
            return False
        for k in self.f.get("slow", ()):
            if k <= step < k + self.slow_steps:
                return True
        return False


# ----------------------------------------------------------------------------- training

def main(argv=None):
    args = parse_args(argv)
    faulthandler.enable()
    torch.set_num_threads(max(1, args.threads))
    torch.set_flush_denormal(True)
    resume, lr_scale_new, micro_new, skips_new, attempt = resolve_remedies(args)

    chars, train, val = load_text(args.data, args.data_order)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    model = CharTransformer(len(chars), args.n_layer, args.n_head, args.n_embd, args.seq_len,
                            args.dropout)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))

    start_step, windows, lr_scale, micro = 1, [], 1.0, args.batch_size
    remove_stale_temps(args.out)
    ckpt_path = resolve_resume_path(resume, args.out)
    if ckpt_path:
        ck = load_ckpt(ckpt_path)
        if ck["chars"] != chars:
            raise SystemExit("error: %s was trained on another vocabulary" % ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["py_rng"])
        start_step = ck["step"] + 1
        windows = [tuple(w) for w in ck.get("skip_windows", [])]
        lr_scale = ck.get("lr_scale", 1.0)
        micro = ck.get("micro_batch", args.batch_size)
        # Checkpoints beyond the resumed step belong to an abandoned future.
        if os.path.realpath(os.path.dirname(ckpt_path)) == os.path.realpath(args.out):
            for s, p in list_ckpts(args.out):
                if s > ck["step"]:
                    os.remove(p)
        print("resumed from %s at step %d" % (ckpt_path, ck["step"]), flush=True)
    if lr_scale_new is not None:
        lr_scale = lr_scale_new
    if micro_new is not None:
        micro = micro_new
    micro = max(1, min(int(micro), args.batch_size))
    for w in skips_new:
        if w not in windows:
            windows.append(w)
    oom_max = args.oom_max_micro_batch
    if oom_max is None:
        oom_max = args.batch_size // 2
    faults = Faults(args, transient_fault_allowed(args, ckpt_path is not None, attempt))
    record_index = None
    if args.records:
        # The data index: which records each batch trained on (the report's "Data behind the
        # spike" reads it back when the doctor skips a window).
        inloop.dataset(os.path.basename(args.records), args.records)
        record_index = inloop.RecordIndex(args.record_index)
        # The batches a skip window leaves out hold the data the doctor judged bad; the process
        # that met them was stopped after reading only some. Name their records too (never
        # trained on), so the report and `inloop data quarantine --from-run` see the whole window.
        for index in skipped_indices(windows):
            pos = batch_positions(train, index, args.batch_size, args.seq_len, args.seed,
                                  args.data_order).tolist()
            inloop.batch(index, batch_records(record_index, pos, args.seq_len, args.data_order))

    n_params = sum(p.numel() for p in model.parameters())
    inloop.params(vars(args))
    inloop.params({"effective/lr_scale": lr_scale, "effective/micro_batch": micro,
                   "effective/skip_windows": str(windows), "effective/resume_from": ckpt_path or "",
                   "effective/start_step": start_step, "n_params": n_params,
                   "vocab_size": len(chars), "train_chars": len(train), "val_chars": len(val)})
    print("charlm: %d params, vocab %d, %d train / %d val chars, steps %d..%d, lr %.2e x %g, "
          "micro-batch %d of %d%s" % (n_params, len(chars), len(train), len(val), start_step,
                                      args.steps, args.lr, lr_scale, micro, args.batch_size,
                                      ", skip %s" % windows if windows else ""), flush=True)

    if start_step == 1:
        v0 = evaluate(model, val, args)
        inloop.log(0, {"val/loss": v0})
        print("step 0 | val_loss %.4f" % v0, flush=True)

    t_begin = time.time()
    val_loss = float("nan")
    last_saved = None

    def state():
        return {"skip_windows": windows, "lr_scale": lr_scale, "micro_batch": micro,
                "args": vars(args)}

    for step in range(start_step, args.steps + 1):
        t0 = time.time()
        if faults.transient("crash", step):
            crash_natively(step)
        if faults.transient("hang", step):
            hang_forever(step)
        lr = lr_at(step, args, lr_scale)
        index = inloop.data_index(step, windows)
        x, y = get_batch(train, index, args.batch_size, args.seq_len, args.seed, args.data_order)
        if record_index is not None:
            pos = batch_positions(train, index, args.batch_size, args.seq_len, args.seed,
                                  args.data_order).tolist()
            inloop.batch(index, batch_records(record_index, pos, args.seq_len, args.data_order))
        step_lr = lr
        if faults.bad_batch("spike", step, index):
            y = random_targets(y, len(chars), args.seed, step)
            step_lr = lr * args.spike_factor
            print("injected spike at step %d: random targets, lr x %g"
                  % (step, args.spike_factor), flush=True)
        nan_now = faults.bad_batch("nan", step, index)
        for group in opt.param_groups:
            group["lr"] = step_lr
        opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for i in range(0, args.batch_size, micro):
            xm, ym = x[i:i + micro], y[i:i + micro]
            if faults.oom(step, micro, oom_max):
                raise cuda_oom()
            with autocast(args):
                _, loss = model(xm, ym)
            loss = loss * (xm.shape[0] / args.batch_size)
            if nan_now:
                loss = loss * float("nan")
            loss.backward()
            loss_sum += loss.item()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            model.parameters(), args.grad_clip if args.grad_clip > 0 else float("inf")).item()
        opt.step()
        if faults.slow(step):
            time.sleep((args.slow_factor - 1.0) * max(0.0, time.time() - t0))
        if args.sleep_per_step > 0:
            time.sleep(args.sleep_per_step)
        dt = time.time() - t0
        tok_s = args.batch_size * args.seq_len / max(dt, 1e-9)

        if step % args.log_every == 0 or step == start_step or step == args.steps:
            inloop.log(step, {"train/loss": loss_sum, "lr": lr, "grad_norm": grad_norm,
                              "tokens_per_s": tok_s, "step_time_ms": dt * 1000.0})
            print("step %d | loss %.4f | lr %.2e | grad_norm %.3g | %d tok/s"
                  % (step, loss_sum, lr, grad_norm, tok_s), flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            val_loss = evaluate(model, val, args)
            inloop.log(step, {"val/loss": val_loss})
            print("step %d | val_loss %.4f" % (step, val_loss), flush=True)
        if step % args.ckpt_every == 0 or step == args.steps:
            last_saved = save_ckpt(args.out, step, model, opt, chars, state())

    elapsed = time.time() - t_begin
    if start_step > args.steps:
        val_loss = evaluate(model, val, args)
    print("done | steps %d | final val_loss %.4f | %.1f s | last checkpoint %s"
          % (args.steps, val_loss, elapsed, last_saved or "-"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
