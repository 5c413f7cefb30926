"""The benchmark suite: prefork against nginx, Node, uvicorn, gunicorn and granian.

Each server runs one worker with its whole process tree pinned to core 0; wrk -t1 -c32
runs pinned to core 1. Each scenario runs several rounds, servers interleaved
(A B C … A B C …). Writes bench/results/results.md (median, spread, ratios) and
bench/results/results.png. Loopback only; every run is bounded by wrk's -d.

Usage:
  python3 bench/suite.py [--rounds N] [--seconds S] [--only SERVER,...] [--scenarios A,B]
  python3 bench/suite.py --smoke      (starts prefork, one short request; for CI)
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
RESULTS = os.path.join(BENCH, "results")
VENV = os.environ.get("PREFORK_PEERS_VENV", "/tmp/prefork-peers")
SERVERS = ("prefork", "prefork-defaults", "prefork-wsgi", "prefork-wsgi-defaults", "node", "nginx", "uvicorn",
           "gunicorn", "granian")
# prefork with its observability: "bare" (the plain names) has no access log and no metrics;
# "-defaults" has both, as a default install does, with the access log going to a file
OBSERVABILITY = {"bare": [], "log": ["access_log"], "metrics": ["metrics"], "defaults": ["access_log", "metrics"]}
SCENARIOS = {
    "hello": dict(path="/"),
    "hello-close": dict(path="/", headers=["Connection: close"]),
    "4k": dict(path="/4k"),
    "64k": dict(path="/64k"),
    "echo-1k": dict(path="/echo", script="post"),
    "pipelined-16": dict(path="/", script="pipeline"),
    "hello-1000-idle": dict(path="/", idle=1000),
}
LUA = {
    "post": 'wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\nwrk.headers["Content-Type"] = "text/plain"\n',
    "pipeline": 'init = function(args)\n  local r = {}\n  for i = 1, 16 do r[i] = wrk.format(nil, "/") end\n'
                '  req = table.concat(r)\nend\nrequest = function() return req end\n',
}


def ensure_tools():
    missing = [pkg for tool, pkg in (("wrk", "wrk"), ("nginx", "nginx-light")) if shutil.which(tool) is None
               and not os.path.exists(f"/usr/sbin/{tool}")]
    if missing:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, check=True)
    if not os.path.exists(os.path.join(VENV, "bin", "granian")):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "gunicorn", "granian",
                        "uvicorn[standard]", "matplotlib"], check=True)


def free_port():
    # peers that cannot take an inherited socket: bind port 0, read the number, release it
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def nginx_conf(port, tmp):
    for name, size in (("4k", 4096), ("64k", 65536)):
        with open(os.path.join(tmp, name), "wb") as fh:
            fh.write(b"x" * size)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(f"""worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port} backlog=2048; root {tmp};
    location = / {{ default_type text/plain; return 200 "Hello, World!"; }}
    location = /echo {{ return 405; }}
  }} }}
""")
    return conf


def prefork_variant(name):
    """("events" or "wsgi", observability) for a prefork server name, else None."""
    if not name.startswith("prefork"):
        return None
    interface = "wsgi" if name.startswith("prefork-wsgi") else "events"
    rest = name[len("prefork-wsgi" if interface == "wsgi" else "prefork"):].lstrip("-") or "bare"
    return interface, rest


def command(name, port, tmp):
    py = [sys.executable, "-m", "prefork"]
    variant = prefork_variant(name)
    if variant is not None:
        interface, observability = variant
        features = OBSERVABILITY[observability]
        common = ["--workers", "1", "--bind", f"127.0.0.1:{port}",
                  "--access-log", os.path.join(tmp, "access.log") if "access_log" in features else "",
                  "--metrics-bind", "127.0.0.1:0" if "metrics" in features else ""]
        if interface == "wsgi":
            return py + ["--interface", "wsgi", "apps:wsgi"] + common
        return py + ["apps:setup"] + common
    if name == "node":
        return ["node", os.path.join(BENCH, "node_app.js"), str(port)]
    if name == "nginx":
        return ["nginx", "-c", nginx_conf(port, tmp)]
    if name == "uvicorn":
        return [os.path.join(VENV, "bin", "uvicorn"), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                "--log-level", "warning", "--host", "127.0.0.1", "--port", str(port), "apps:asgi"]
    if name == "gunicorn":
        return [os.path.join(VENV, "bin", "gunicorn"), "-k", "gthread", "--threads", "4", "-w", "1", "-b",
                f"127.0.0.1:{port}", "apps:wsgi"]
    if name == "granian":
        return [os.path.join(VENV, "bin", "granian"), "--interface", "wsgi", "--workers", "1", "--host", "127.0.0.1",
                "--port", str(port), "apps:wsgi"]
    raise ValueError(name)


class Server:
    def __init__(self, name, root=ROOT):
        """``root``: the checkout whose prefork runs (another commit's, for a baseline)."""
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, BENCH]))
        cmd = "ulimit -n 16384; exec taskset -c 0 " + " ".join(f"'{c}'" for c in command(name, self.port, self.tmp))
        self.proc = subprocess.Popen(["bash", "-c", cmd], env=env, cwd=BENCH, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port)

    def worker_pid(self):
        """The process that serves (the single worker, or the server itself)."""
        group = subprocess.run(["pgrep", "-g", str(os.getpgid(self.proc.pid))], capture_output=True, text=True).stdout
        # prefork's workers lead their own process groups: look at the children as well
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        pids = {int(p) for p in (group + children).split()}
        return max(pids) if pids else self.proc.pid

    def stop(self):
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def hold_idle(port, count, seconds):
    """A helper process holding ``count`` idle keep-alive connections for ``seconds``."""
    code = f"""
import resource, socket, time
resource.setrlimit(resource.RLIMIT_NOFILE, (16384, 16384))
socks = []
for _ in range({count}):
    s = socket.create_connection(("127.0.0.1", {port}))
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    s.recv(4096)
    socks.append(s)
print("ready", flush=True)
time.sleep({seconds})
"""
    proc = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    return proc


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            latency[pct] = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "latency_ms": latency, "non2xx": int(errors.group(1)) if errors else 0,
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def run_wrk(port, scenario, seconds):
    spec = SCENARIOS[scenario]
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", "--latency"]
    for header in spec.get("headers", ()):
        cmd += ["-H", header]
    script = None
    if spec.get("script"):
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(LUA[spec["script"]])
        script.close()
        cmd += ["-s", script.name]
    cmd.append(f"http://127.0.0.1:{port}{spec['path']}")
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        if script:
            os.unlink(script.name)
    return parse_wrk(out)


def rss(pid):
    with open(f"/proc/{pid}/status") as fh:
        return int(re.search(r"VmRSS:\s+(\d+) kB", fh.read()).group(1)) * 1024


def supports(server, scenario):
    return not (server == "nginx" and scenario == "echo-1k")


def measure(servers, scenarios, rounds, seconds):
    results = {}
    for scenario in scenarios:
        for _ in range(rounds):
            for name in servers:
                if not supports(name, scenario):
                    continue
                server = Server(name)
                idle = None
                try:
                    if SCENARIOS[scenario].get("idle"):
                        idle = hold_idle(server.port, SCENARIOS[scenario]["idle"], seconds + 30)
                    result = run_wrk(server.port, scenario, seconds)
                finally:
                    if idle is not None:
                        idle.kill()
                        idle.wait()
                    server.stop()
                results.setdefault(scenario, {}).setdefault(name, []).append(result)
                print(f"{scenario:16} {name:13} {result['rps']:>10,.0f} req/s", flush=True)
    return results


def memory_profile(name, seconds_per_step=3):
    """RSS of the serving process after start, after >= 100k and >= 1M requests."""
    server = Server(name)
    try:
        pid = server.worker_pid()
        points = [("start", 0, rss(pid))]
        total = 0
        for target in (100_000, 1_000_000):
            while total < target:
                total += run_wrk(server.port, "hello", seconds_per_step)["requests"]
            points.append((f">= {target:,}", total, rss(pid)))
        return points
    finally:
        server.stop()


def write_report(results, memory, args):
    os.makedirs(RESULTS, exist_ok=True)
    lines = [f"# Benchmark results ({time.strftime('%Y-%m-%d')})", "",
             f"Command: `python3 bench/suite.py --rounds {args.rounds} --seconds {args.seconds}`. "
             "Server pinned to core 0, `wrk -t1 -c32 --latency` pinned to core 1; "
             f"{os.cpu_count()} CPUs; median of {args.rounds} interleaved rounds (min–max).", ""]
    for scenario, by_server in results.items():
        medians = {name: statistics.median(r["rps"] for r in runs) for name, runs in by_server.items()}
        lines += [f"## {scenario}", "", "| server | req/s (median) | min–max | p50 ms | p99 ms | prefork ÷ this |",
                  "|---|---|---|---|---|---|"]
        base = medians.get("prefork")
        for name, runs in by_server.items():
            values = [r["rps"] for r in runs]
            if SCENARIOS[scenario].get("script") == "pipeline":
                p50 = p99 = float("nan")  # wrk times 16-request batches here: not per request
            else:
                p50 = statistics.median(r["latency_ms"].get("50", float("nan")) for r in runs)
                p99 = statistics.median(r["latency_ms"].get("99", float("nan")) for r in runs)
            ratio = f"{base / medians[name]:.2f}×" if base and name != "prefork" else "—"
            lines.append(f"| {name} | {medians[name]:,.0f} | {min(values):,.0f}–{max(values):,.0f} | {p50:.2f} | "
                         f"{p99:.2f} | {ratio} |")
        lines.append("")
    if memory:
        lines += ["## Worker memory (RSS)", "", "| server | after start | after ≥100k requests | after ≥1M requests |",
                  "|---|---|---|---|"]
        for name, points in memory.items():
            lines.append(f"| {name} | " + " | ".join(f"{p[2] / 1e6:.1f} MB" for p in points) + " |")
        lines.append("")
    with open(os.path.join(RESULTS, "results.md"), "w") as fh:
        fh.write("\n".join(lines))
    plot = os.path.join(VENV, "bin", "python")
    data = {s: {n: statistics.median(r["rps"] for r in runs) for n, runs in b.items()} for s, b in results.items()}
    code = f"""
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = {data!r}
scenarios = list(data); servers = sorted({{n for b in data.values() for n in b}}, key={list(SERVERS)!r}.index)
fig, ax = plt.subplots(figsize=(12, 5)); width = 0.8 / len(servers)
for i, name in enumerate(servers):
    ax.bar([x + i * width for x in range(len(scenarios))], [data[s].get(name, 0) for s in scenarios], width, label=name)
ax.set_xticks([x + 0.4 - width / 2 for x in range(len(scenarios))]); ax.set_xticklabels(scenarios)
ax.set_ylabel("requests/second (one worker on one core)"); ax.legend(); ax.grid(axis="y", alpha=0.3)
fig.tight_layout(); fig.savefig({os.path.join(RESULTS, 'results.png')!r}, dpi=110)
"""
    subprocess.run([plot, "-c", code], check=True)


def smoke():
    """For CI: start prefork the way the suite does, one request, and the wrk parser."""
    sample = ("Running 1s test\n  Latency Distribution\n     50%  401.00us\n     99%    2.10ms\n"
              "  12345 requests in 1.00s, 1.5MB read\nRequests/sec:  12345.67\n")
    parsed = parse_wrk(sample)
    assert parsed["rps"] == 12345.67 and parsed["latency_ms"] == {"50": 0.401, "99": 2.1}
    server = Server("prefork")
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(b"GET /4k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"x" * 4096)
    finally:
        server.stop()
    print("smoke ok")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--only", default=",".join(SERVERS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        smoke()
        return
    ensure_tools()
    servers = [s for s in args.only.split(",") if s]
    results = measure(servers, [s for s in args.scenarios.split(",") if s], args.rounds, args.seconds)
    memory = {} if args.no_memory else {name: memory_profile(name) for name in ("prefork", "node") if name in servers}
    write_report(results, memory, args)
    print(open(os.path.join(RESULTS, "results.md")).read())


if __name__ == "__main__":
    main()
