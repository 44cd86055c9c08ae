#!/usr/bin/env bash
# Fresh Debian 12 to a supervised training run: set up, build, then `inloop demo`.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
exec ./build/inloop demo "$@"
