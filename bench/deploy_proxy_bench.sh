#!/usr/bin/env bash
# Proxy throughput and added latency of `inloop deploy` against Debian's nginx as a reverse proxy,
# both in front of the same upstream process (nginx answering a static 200-byte body, started as
# the deploy's one replica), in the same run, with wrk POSTing JSON over keep-alive.
#   bench/deploy_proxy_bench.sh [BUILD_DIR] [SECONDS]
# Prints req/s for the upstream alone, nginx-as-proxy and inloop, then p50/p99 at a light load
# (2 connections, about half of what one proxy core serves) and the p99 added over the upstream.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${2:-5}
INLOOP="$BUILD/inloop"
WORK=$(mktemp -d /tmp/inloop-proxybench-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cleanup() {
  [ -n "${DEPLOY:-}" ] && kill "$DEPLOY" 2>/dev/null && wait "$DEPLOY" 2>/dev/null
  [ -f "$WORK/proxy/nginx.pid" ] && kill "$(cat "$WORK/proxy/nginx.pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$INLOOP" deploy --store "$WORK/store" --port 0 --port-file "$WORK/port" --min 1 --max 1 \
  -- bench/deploy_upstream.sh >"$WORK/deploy.log" 2>&1 &
DEPLOY=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
P=$(cat "$WORK/port")
for _ in $(seq 100); do
  U=$("$INLOOP" deploy status --port "$P" --json 2>/dev/null |
      python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["pools"][0]["replicas"]; print(r[0]["port"] if r and r[0]["state"]=="ready" else "")' || true)
  [ -n "$U" ] && break
  sleep 0.1
done
[ -n "$U" ] || { echo "upstream not ready"; cat "$WORK/deploy.log"; exit 1; }

N=$(free_port)
mkdir -p "$WORK/proxy"
cat >"$WORK/proxy/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/proxy/nginx.pid;
error_log $WORK/proxy/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/proxy;
  proxy_temp_path $WORK/proxy;
  upstream model { server 127.0.0.1:$U; keepalive 64; }
  server {
    listen 127.0.0.1:$N;
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
nginx -e "$WORK/proxy/error.log" -p "$WORK/proxy" -c "$WORK/proxy/nginx.conf"
sleep 0.3

cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"benchmark request","temperature":1,"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
LUA
run() {  # name url connections
  wrk -t1 -c"$3" -d"${SECS}s" --latency -s "$WORK/post.lua" "$2/v1/completions" >"$WORK/$1.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$1.txt")
  echo "$1 $rps $p50 $p99"
}
to_ms() { python3 -c "import sys,re; v=sys.argv[1]; m=re.match(r'([0-9.]+)(us|ms|s)',v); x=float(m.group(1)); print(x/1000 if m.group(2)=='us' else x*1000 if m.group(2)=='s' else x)" "$1"; }

ROUNDS=${ROUNDS:-5}
echo "# full load: wrk -t1 -c32 -d${SECS}s (POST, keep-alive), $ROUNDS rounds alternating nginx and"
echo "# inloop; each proxy has one worker/thread; the machine is shared, so medians and bests"
read -r _ up_rps _ _ < <(run upstream "http://127.0.0.1:$U" 32)
printf "upstream alone  %10.0f req/s\n" "$up_rps"
ngx_all=() inl_all=()
for r in $(seq "$ROUNDS"); do
  read -r _ ngx_rps _ _ < <(run nginx "http://127.0.0.1:$N" 32)
  read -r _ inl_rps _ _ < <(run inloop "http://127.0.0.1:$P" 32)
  printf "round %d: nginx %8.0f  inloop %8.0f req/s  (ratio %.2f)\n" "$r" "$ngx_rps" "$inl_rps" \
    "$(python3 -c "import sys; print(float(sys.argv[1]) / float(sys.argv[2]))" "$inl_rps" "$ngx_rps")"
  ngx_all+=("$ngx_rps") inl_all+=("$inl_rps")
done
python3 - "${ngx_all[*]}" "${inl_all[*]}" <<'PY'
import statistics, sys
n = [float(x) for x in sys.argv[1].split()]
i = [float(x) for x in sys.argv[2].split()]
ratios = sorted(b / a for a, b in zip(n, i))
print(f"median: nginx {statistics.median(n):.0f}, inloop {statistics.median(i):.0f} req/s; "
      f"inloop / nginx: median of medians {statistics.median(i) / statistics.median(n):.2f}, "
      f"best {max(i) / max(n):.2f} (best vs best), per-round median {statistics.median(ratios):.2f}")
PY

echo "# light load: wrk -t1 -c2 (closed loop) latency"
read -r _ _ up50 up99 < <(run upstream_light "http://127.0.0.1:$U" 2)
read -r _ _ n50 n99 < <(run nginx_light "http://127.0.0.1:$N" 2)
read -r _ irps i50 i99 < <(run inloop_light "http://127.0.0.1:$P" 2)
echo "upstream p50 $up50 p99 $up99 | nginx p50 $n50 p99 $n99 | inloop p50 $i50 p99 $i99 ($irps req/s)"
python3 -c "import sys; a, b, c = map(float, sys.argv[1:]); print(f'p99 added by inloop: {a - c:.3f} ms; by nginx: {b - c:.3f} ms')" "$(to_ms "$i99")" "$(to_ms "$n99")" "$(to_ms "$up99")"

echo "# cache hits: the same request with temperature 0 (4 KiB answers are cached after the first)"
cat >"$WORK/hit.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"benchmark request","temperature":0,"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t1 -c2 -d"${SECS}s" --latency -s "$WORK/hit.lua" "http://127.0.0.1:$P/v1/completions" >"$WORK/hit.txt"
echo "inloop cache hits: $(awk '/Requests\/sec/ {print $2}' "$WORK/hit.txt") req/s, p50 $(awk '$1=="50%" {print $2}' "$WORK/hit.txt"), p99 $(awk '$1=="99%" {print $2}' "$WORK/hit.txt") (client-observed round trip)"
"$INLOOP" deploy status --port "$P" --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["cache"]; print("cache:", c["hits"], "hits,", c["misses"], "misses")'
