#!/usr/bin/env bash
# The checkpoint audit against reading the same bytes: a ~1 GB checkpoint written by torch.save
# (zip format), the same in the legacy format, and a 1 GB numpy array pickled with protocol 5.
# Baseline, measured in the same run: `cat FILE > /dev/null` (the file read once from the page
# cache). Prints MB/s of both and the ratio (audit / read: above 1 means the audit never reads
# the tensor bytes it does not need).
#   bench/audit/audit_bench.sh [SIZE_MB]     (default 1024)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${INLOOP_BIN:-build/inloop}
PY=${INLOOP_PYTHON:-/usr/bin/python3}
MB=${1:-1024}
WORK=$(mktemp -d /tmp/inloop-audit-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$PY" - "$WORK" "$MB" <<'PY'
import pickle, sys, numpy as np, torch
out, mb = sys.argv[1], int(sys.argv[2])
n = mb * (1 << 20) // 4
t = torch.zeros(n, dtype=torch.float32)
torch.save({"w": t, "step": 1}, f"{out}/zip.pt")
torch.save({"w": t, "step": 1}, f"{out}/legacy.pt", _use_new_zipfile_serialization=False)
with open(f"{out}/numpy-p5.pkl", "wb") as f:
    pickle.dump({"w": np.zeros(n, dtype=np.float32)}, f, protocol=5)
PY
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.4f", b-a}'; }
printf '%-14s %8s %10s %10s %8s\n' file MB read_MB/s audit_MB/s ratio
for f in zip.pt legacy.pt numpy-p5.pkl; do
  p="$WORK/$f"
  size=$(stat -c %s "$p")
  cat "$p" > /dev/null  # warm the page cache for both
  best_read=999; best_audit=999
  for _ in 1 2 3; do
    r=$(secs cat "$p"); a=$(secs "$BIN" audit "$p")
    best_read=$(awk -v x="$r" -v y="$best_read" 'BEGIN{print (x<y)?x:y}')
    best_audit=$(awk -v x="$a" -v y="$best_audit" 'BEGIN{print (x<y)?x:y}')
  done
  "$BIN" audit "$p" > /dev/null || { echo "audit failed on $f" >&2; exit 1; }
  awk -v f="$f" -v s="$size" -v r="$best_read" -v a="$best_audit" 'BEGIN {
    mb = s / 1048576; printf "%-14s %8.0f %10.0f %10.0f %7.1fx\n", f, mb, mb / r, mb / a, r / a }'
done
