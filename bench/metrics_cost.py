"""Hot-path cost of metrics and scrape latency, on the real daemon.

1. One worker pinned to core 0, wrk pinned to core 1, hello world keep-alive: metrics on
   and metrics off, rounds interleaved (on, off, on, off ...).
2. Scrape latency of /metrics with 8 workers (median and max of 50 scrapes).

Usage: python3 bench/metrics_cost.py [rounds] [seconds]   (loopback only)
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from daemon import Daemon  # noqa: E402


def wrk(port, seconds):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), int(re.search(r"(\d+) requests in", out).group(1))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_one(metrics, seconds):
    args = [] if metrics else ["--metrics-bind", ""]
    d = Daemon(*args, app="apps.hello:setup", workers=1)
    try:
        d.wait_ready()
        (worker,) = d.wait_workers(1)
        subprocess.run(["taskset", "-pc", "0", str(worker)], capture_output=True, check=True)
        before = cpu_seconds(worker)
        rps, count = wrk(d.port, seconds)
        return rps, (cpu_seconds(worker) - before) / count * 1e6
    finally:
        d.cleanup()


def scrape_latency(workers=8, count=50):
    d = Daemon(app="apps.hello:setup", workers=workers)
    try:
        d.wait_ready()
        d.wait_workers(workers)
        port = d.metrics_port()
        time.sleep(1.5)  # every worker has sent a heartbeat with stats
        times = []
        for _ in range(count):
            start = time.perf_counter()
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while sock.recv(65536):
                pass
            sock.close()
            times.append(time.perf_counter() - start)
        return statistics.median(times), max(times)
    finally:
        d.cleanup()


def main():
    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage is the docstring
        sys.exit(print(__doc__))
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    on, off = [], []
    for _ in range(rounds):
        on.append(run_one(True, seconds))
        off.append(run_one(False, seconds))
    for label, runs in (("on", on), ("off", off)):
        print(f"metrics {label:3}: {statistics.median(r for r, _ in runs):,.0f} req/s, "
              f"{statistics.median(c for _, c in runs):.2f} us worker CPU per request "
              f"(rounds: {', '.join(f'{r:,.0f}/{c:.2f}' for r, c in runs)})")
    rps_cost = 1 - statistics.median(r for r, _ in on) / statistics.median(r for r, _ in off)
    cpu_cost = statistics.median(c for _, c in on) / statistics.median(c for _, c in off) - 1
    print(f"cost of metrics: {rps_cost * 100:.1f}% of throughput, {cpu_cost * 100:.1f}% more worker CPU per request")
    median, worst = scrape_latency()
    print(f"scrape with 8 workers: median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms")


if __name__ == "__main__":
    main()
