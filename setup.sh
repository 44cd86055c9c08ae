#!/usr/bin/env bash
# One idempotent set-up shared by demo.sh and test.sh: installs every missing Debian package the
# build, the tests and the demo need, then configures and builds with CMake into ./build.
# Safe to run again: it installs nothing that is already there and rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake ninja-build g++ pkg-config git ca-certificates procps iproute2
  libfmt-dev libsimdjson-dev libsqlite3-dev libzstd-dev zlib1g-dev libcli11-dev libtomlplusplus-dev
  libpcre2-dev libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev sqlite3
  libpq-dev postgresql-15
  libprotobuf-dev protobuf-compiler libssl-dev libcurl4-openssl-dev
  python3 python3-torch python3-numpy
  slurm-wlm munge
  chromium
  libboost1.81-dev nginx-light wrk
  clang libclang-rt-14-dev bandit
)
# Node.js and npm bundle the UI and drive the browser tests; a machine that already has them
# (for example from NodeSource, whose nodejs carries its own npm) keeps its own.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The UI's npm packages (playwright-core for the browser tests), pinned by ui/package-lock.json.
if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: installing the UI's npm packages" >&2
  (cd ui && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

BUILD_DIR=${INLOOP_BUILD_DIR:-build}
BUILD_TYPE=${INLOOP_BUILD_TYPE:-RelWithDebInfo}
# Ninja starts a target's compiles while the libraries it links are still compiling (Make waits
# for each whole target), which keeps both cores busy through a cold build. A build folder keeps
# the generator it was configured with.
GENERATOR=()
if command -v ninja >/dev/null 2>&1; then GENERATOR=(-G Ninja); fi
# ccache (for those who build through it) caches compiles that use the precompiled headers only
# with this sloppiness; without ccache it changes nothing.
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${INLOOP_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
