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
. bench/run_hello.sh
for _ in $(seq "$rounds"); do
  if [ -n "$baseline" ]; then run baseline "$python" "$baseline/bench/hello_prefork.py"; fi
  run asyncio PREFORK_LOOP=asyncio "$python" bench/hello_prefork.py
  run uvloop PREFORK_LOOP=uvloop "$python" bench/hello_prefork.py
done
