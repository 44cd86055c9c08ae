#!/usr/bin/env python3
# Tokenizes the corpus for the charlm example: the texts joined by newlines (train.txt, which
# examples/charlm/train.py --data reads), and the same characters as token ids in a raw uint16
# shard (train.bin, nanoGPT's format: little-endian, no header) with the vocabulary (meta.json),
# and the index from characters back to records (train.idx: little-endian uint64, the offset in
# train.txt where the text of corpus line i+1 starts): the data index that
# examples/charlm/train.py --records out/corpus.jsonl --record-index out/train.idx reports batches
# through (docs/data.md, "Which records a batch read").
import json
import os
import sys
from array import array


def main():
    src, txt_out, bin_out, meta_out, idx_out = sys.argv[1:6]
    texts = [json.loads(line)["text"] for line in open(src, encoding="utf-8")]
    starts, pos = array("Q"), 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    if sys.byteorder != "little":
        starts.byteswap()
    text = "\n".join(texts) + "\n"
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = array("H", (stoi[c] for c in text))
    if sys.byteorder != "little":
        ids.byteswap()
    for path, write in ((txt_out, lambda f: f.write(text.encode("utf-8"))),
                        (bin_out, lambda f: ids.tofile(f)),
                        (meta_out, lambda f: f.write(json.dumps({"vocab_size": len(chars), "chars": chars}).encode())),
                        (idx_out, lambda f: starts.tofile(f))):
        with open(path + ".tmp", "wb") as f:
            write(f)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
