#!/usr/bin/env bash
# Hello-world requests/second: prefork's standalone event server against Node's http,
# each pinned to core 0, wrk pinned to core 1, rounds interleaved (A B A B ...).
# Usage: bench/hello.sh [rounds] [seconds]   (loopback only; each round is bounded by -d)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-5}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
. bench/run_hello.sh
for _ in $(seq "$rounds"); do
  run prefork python3 bench/hello_prefork.py
  run node node bench/hello_node.js
done
