#!/usr/bin/env bash
# Keep-alive hello requests/second of the standalone event server on each worker loop:
# the standard library's asyncio selector loop (the default) and uvloop, and, when a
# second checkout is given, that checkout's hello server as a baseline. Each server is
# pinned to core 0, wrk to core 1; rounds interleave the servers (loopback only).
# Usage: bench/loops.sh [rounds] [seconds] [baseline-checkout]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-4}
baseline=${3:-}
python=${PYTHON:-python3}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
run() {
  local name=$1; shift
  local out; out=$(mktemp)
  taskset -c 0 env "$@" 0 >"$out" & local pid=$!
  local port=""
  for _ in $(seq 200); do port=$(head -n1 "$out"); [ -n "$port" ] && break; sleep 0.05; done
  rm -f "$out"
  local rps
  rps=$(taskset -c 1 wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$name $rps"
}
for _ in $(seq "$rounds"); do
  if [ -n "$baseline" ]; then run baseline "$python" "$baseline/bench/hello_prefork.py"; fi
  run asyncio PREFORK_LOOP=asyncio "$python" bench/hello_prefork.py
  run uvloop PREFORK_LOOP=uvloop "$python" bench/hello_prefork.py
done
