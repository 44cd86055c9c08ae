# Shared helpers for the end-to-end tests: a temp store, assertions, JSON field access.
# Each *_test.sh sources this; INLOOP_BIN points at the built binary (set by CTest).
set -euo pipefail
INLOOP_BIN=${INLOOP_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/inloop}
INLOOP_SRC=${INLOOP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=${INLOOP_PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d /tmp/inloop-e2e-XXXXXX)
export INLOOP_STORE="$WORK/store"
export NO_COLOR=1
cleanup() { [ -n "${INLOOP_KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
inloop() { "$INLOOP_BIN" "$@"; }
# json EXPR < file: evaluates a Python expression over the parsed JSON `d`.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
assert_eq() { [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"; }
assert_contains() { grep -qF -- "$2" <<<"$1" || fail "$3: '$2' not in output: $(head -c 2000 <<<"$1")"; }
# Waits until a command succeeds, up to N tenths of a second.
wait_for() { local n=$1; shift; for ((i = 0; i < n; i++)); do if "$@"; then return 0; fi; sleep 0.1; done; return 1; }
