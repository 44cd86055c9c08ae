#!/usr/bin/env python3
# The corpus records a window of charlm training steps read: replays charlm's batch sampling
# (examples/charlm/train.py: load_text's 90/10 block split and get_batch's generator seeded by
# (seed, data index)) for the data indices [--from, --to), maps each sampled position back to a
# character offset of train.txt and, through the index the tokenize step writes (train.idx), to
# the corpus line it came from. Writes those records as JSONL (each once, in corpus order) so
# `inloop data check FILE --like out/corpus.jsonl` holds them to the corpus's checks, and prints
# their line numbers for `inloop data quarantine out/corpus.jsonl --lines ...`.
#   window_records.py --from 120 --to 140 --out /tmp/window.jsonl
import argparse
import bisect
import os
import sys
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "charlm"))
import train as charlm  # noqa: E402  (load_text, get_batch: the one definition of the sampling)


def train_to_text_offset(p, block=1024):
    # load_text keeps blocks i with i % 10 != 9 for training, in order.
    k, r = divmod(p, block)
    return (k + k // 9) * block + r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="lo", type=int, required=True, help="first data index")
    ap.add_argument("--to", dest="hi", type=int, required=True, help="end data index (exclusive)")
    ap.add_argument("--data", default=os.path.join(HERE, "out", "train.txt"))
    ap.add_argument("--index", default=os.path.join(HERE, "out", "train.idx"))
    ap.add_argument("--corpus", default=os.path.join(HERE, "out", "corpus.jsonl"))
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    chars, train, _ = charlm.load_text(a.data)
    with open(a.data, encoding="utf-8") as f:
        text = f.read()
    starts = array("Q")
    with open(a.index, "rb") as f:
        starts.frombytes(f.read())
    if sys.byteorder != "little":
        starts.byteswap()
    lines = set()
    for index in range(a.lo, a.hi):
        x, _ = charlm.get_batch(train, index, a.batch_size, a.seq_len, a.seed)
        g = charlm.torch.Generator()
        g.manual_seed(a.seed * 1_000_003 + index)
        ix = charlm.torch.randint(len(train) - a.seq_len - 1, (a.batch_size,), generator=g)
        for row, p in enumerate(ix.tolist()):
            # The replay must be get_batch's own sampling: the rows it returned are these.
            assert charlm.torch.equal(x[row], train[p:p + a.seq_len]), "sampling replay diverged"
            for q in range(p, p + a.seq_len + 1, 16):
                # ... and the offset in train.txt holds the character the batch trained on.
                assert text[train_to_text_offset(q)] == chars[int(train[q])], "offset mapping diverged"
                lines.add(bisect.bisect_right(starts, train_to_text_offset(q)))  # 1-based line
    with open(a.corpus, encoding="utf-8") as f, open(a.out, "w", encoding="utf-8") as out:
        for n, rec in enumerate(f, 1):
            if n in lines:
                out.write(rec)
    print(",".join(str(n) for n in sorted(lines)))


if __name__ == "__main__":
    main()
