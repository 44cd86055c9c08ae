#!/usr/bin/env python3
# Writes a synthetic English-like corpus as JSONL ({"id", "source", "text"} per line) from a small
# grammar and a fixed seed: nothing is downloaded. DATAPIPE_INJECT=1 plants what a scrape often
# holds: a block of one boilerplate paragraph repeated verbatim and with small edits (the kind of
# repeated text OLMo 2 traced its loss spikes to), which the validation step flags.
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


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    rng = random.Random(20)
    records = []
    for i in range(n):
        text = " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
        records.append({"id": i, "source": rng.choice(SOURCES), "text": text})
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
