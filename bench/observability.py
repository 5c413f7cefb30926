"""What the access log and metrics cost: prefork "bare" against "defaults", per interface.

One worker, its whole process tree pinned to core 0; ``wrk -t1 -c32`` pinned to core 1;
keep-alive hello world. Variants, interleaved in every round (bare, log, metrics,
defaults, for the events API then WSGI):
  bare      --access-log= --metrics-bind=
  log       access log to a file, no metrics
  metrics   metrics on, no access log
  defaults  access log to a file and metrics on (what a default install runs)
Reports the median req/s, each variant against bare of the same interface, and the
worker's CPU time per request (from /proc, user + system).

Usage: python3 bench/observability.py [--rounds N] [--seconds S] [--interfaces events,wsgi]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import suite  # noqa: E402

VARIANTS = ("bare", "log", "metrics", "defaults")


def server_name(interface, variant):
    base = "prefork" if interface == "events" else "prefork-wsgi"
    return base if variant == "bare" else f"{base}-{variant}"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_of(master, timeout=20):
    """The PID of the master's (single) worker process, once its title says so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    title = fh.read()
            except (OSError, ValueError):
                continue
            if parent == master and title.startswith(b"prefork: worker"):
                return int(entry)
        time.sleep(0.05)
    raise TimeoutError(f"no worker under {master}")


def run_one(name, seconds):
    server = suite.Server(name)
    try:
        worker = worker_of(server.proc.pid)
        before = cpu_seconds(worker)
        result = suite.run_wrk(server.port, "hello", seconds)
        result["cpu_us"] = (cpu_seconds(worker) - before) / result["requests"] * 1e6
        if "log" in name or "defaults" in name:
            path = os.path.join(server.tmp, "access.log")
            assert os.path.getsize(path) > 0, "the access log is empty"
        return result
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--interfaces", default="events,wsgi")
    args = parser.parse_args()
    suite.ensure_tools()
    interfaces = [i for i in args.interfaces.split(",") if i]
    results = {}
    for _ in range(args.rounds):
        for interface in interfaces:
            for variant in VARIANTS:
                result = run_one(server_name(interface, variant), args.seconds)
                results.setdefault((interface, variant), []).append(result)
                print(f"{interface:6} {variant:9} {result['rps']:>10,.0f} req/s {result['cpu_us']:6.2f} us CPU/req",
                      flush=True)
    print()
    print(f"Command: python3 bench/observability.py --rounds {args.rounds} --seconds {args.seconds}")
    print("| interface | variant | req/s (median) | min–max | ÷ bare | cost | worker CPU µs/req |")
    print("|---|---|---|---|---|---|---|")
    for interface in interfaces:
        bare = statistics.median(r["rps"] for r in results[(interface, "bare")])
        for variant in VARIANTS:
            runs = results[(interface, variant)]
            rps = [r["rps"] for r in runs]
            median = statistics.median(rps)
            cpu = statistics.median(r["cpu_us"] for r in runs)
            print(f"| {interface} | {variant} | {median:,.0f} | {min(rps):,.0f}–{max(rps):,.0f} | "
                  f"{median / bare:.3f}× | {(1 - median / bare) * 100:.1f}% | {cpu:.2f} |")


if __name__ == "__main__":
    main()
