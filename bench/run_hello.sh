# Shared by bench/hello.sh and bench/loops.sh (sourced): run NAME COMMAND... starts a hello
# server (COMMAND PORT-ARG, printing its port) pinned to core 0, measures it with wrk pinned
# to core 1 for $seconds seconds, stops it, and prints "NAME REQUESTS-PER-SECOND".
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
