#!/usr/bin/env bash
# A fast static upstream for bench/deploy_proxy_bench.sh: nginx (one worker) answering every
# request on 127.0.0.1:$PORT with a fixed 200-byte JSON body. Used as an `inloop deploy` replica.
set -euo pipefail
dir=$(mktemp -d /tmp/inloop-upstream-XXXXXX)
body='{"model":"static","choices":[{"text":"a fixed answer from a static upstream, long enough to look like a short completion of a prompt"}],"score":0.5}'
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $dir;
  server {
    listen 127.0.0.1:$PORT;
    location / { default_type application/json; return 200 '$body'; }
  }
}
CONF
exec nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
