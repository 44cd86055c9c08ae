#!/usr/bin/env python3
# Writes a synthetic English-like corpus as JSONL ({"id", "source", "text"} per line) from a small
# grammar and a fixed seed: nothing is downloaded. DATAPIPE_INJECT=1 plants what a scrape often
# holds: a block of one boilerplate paragraph repeated verbatim and with small edits (the kind of
# repeated text OLMo 2 traced its loss spikes to), which the validation step flags.
# `--inject blob` (spike.toml) plants a shorter block that really spikes a language model: 20
# scraped records that each carry the same inline base64 image (the kind of extraction bug that
# fills a crawl with one blob), near duplicates of each other, in the middle of the corpus (lines
# n/2+1 .. n/2+20). Its letters, digits and "+/" are unlike anything else in the corpus, so the
# loss of a model that reads the corpus in order jumps when it gets there
# (examples/datapipe/README.md).
import json
import os
import random
import sys

NOUNS = ("river stone cloud lantern garden harbor letter mountain window orchard bridge candle "
         "meadow valley tower forest signal engine memory winter").split()
VERBS = ("carries follows remembers builds crosses answers gathers hides opens keeps watches "
         "measures").split()
ADJS = "quiet bright old narrow distant golden patient restless hollow careful".split()
SOURCES = ["essays", "letters", "notes", "stories"]


def sentence(rng):
    return "The %s %s %s the %s %s%s" % (
        rng.choice(ADJS), rng.choice(NOUNS), rng.choice(VERBS), rng.choice(ADJS),
        rng.choice(NOUNS), rng.choice([".", ".", ".", "!", "?"]))


BLOB_RECORDS = 20
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def blob_records(n):
    """The `--inject blob` block: one base64 blob (20 words of 8 characters, its own fixed seed)
    on every record, each with its own ref= number."""
    b = random.Random(99)
    blob = " ".join("".join(b.choice(BASE64) for _ in range(8)) for _ in range(20))
    return [{"id": n + k, "source": "scrape", "text": "data:image/png;base64 %s ref=%d" % (blob, k)}
            for k in range(BLOB_RECORDS)]


def main():
    args = [a for a in sys.argv[1:]]
    inject = None
    if "--inject" in args:
        i = args.index("--inject")
        inject = args[i + 1] if i + 1 < len(args) else None
        if inject != "blob":
            sys.exit("gen_corpus.py: --inject takes 'blob' (DATAPIPE_INJECT=1 plants the boilerplate)")
        del args[i:i + 2]
    out = args[0]
    n = int(args[1]) if len(args) > 1 else 3000
    rng = random.Random(20)
    records = []
    for i in range(n):
        text = " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
        records.append({"id": i, "source": rng.choice(SOURCES), "text": text})
    if inject == "blob":
        records[n // 2:n // 2] = blob_records(n)
    if os.environ.get("DATAPIPE_INJECT") == "1":
        spam = ("Subscribe now to read the full story. Subscribe now to read the full story. "
                "All rights reserved. Click here to accept cookies and continue reading.")
        for k in range(200):
            text = spam if k % 2 == 0 else spam.replace("full", rng.choice(["whole", "full"])) + " Page %d." % k
            records.insert(n // 2 + k, {"id": n + k, "source": "scrape", "text": text})
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
