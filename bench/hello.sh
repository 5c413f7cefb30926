#!/usr/bin/env bash
# Hello-world requests/second: prefork's standalone event server against Node's http,
# each pinned to core 0, wrk pinned to core 1, rounds interleaved (A B A B ...).
# Usage: bench/hello.sh [rounds] [seconds]   (loopback only; each round is bounded by -d)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-5}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
run() {
  local name=$1; shift
  local out; out=$(mktemp)
  taskset -c 0 "$@" 0 >"$out" & local pid=$!
  local port=""
  for _ in $(seq 200); do port=$(head -n1 "$out"); [ -n "$port" ] && break; sleep 0.05; done
  rm -f "$out"
  local rps
  rps=$(taskset -c 1 wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$name $rps"
}
for _ in $(seq "$rounds"); do
  run prefork python3 bench/hello_prefork.py
  run node node bench/hello_node.js
done
