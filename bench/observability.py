"""What the access log and metrics cost: prefork "bare" against "defaults", per interface.

One worker, its whole process tree pinned to core 0; ``wrk -t1 -c32`` pinned to core 1;
keep-alive hello world; each server gets a 1 s warm-up run first. Variants, all of them
in every round, in an order shuffled per round (fixed seed):
  bare      --access-log= --metrics-bind=
  log       access log to a file, no metrics
  metrics   metrics on, no access log
  defaults  access log to a file and metrics on (what a default install runs)
Reports the median req/s; each variant against bare of the same interface as the median
of the per-round ratios (bare and the variant run back to back in every round, which
cancels most of the drift of a shared machine) and as the ratio of the medians; and the
worker's CPU time per request (from /proc, user + system).

Usage: python3 bench/observability.py [--rounds N] [--seconds S] [--interfaces events,wsgi]
"""

import argparse
import os
import random
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
        suite.run_wrk(server.port, "hello", 1)  # warm-up
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
    shuffle = random.Random(11)
    for _ in range(args.rounds):
        order = [(interface, variant) for interface in interfaces for variant in VARIANTS]
        shuffle.shuffle(order)
        for interface, variant in order:
            result = run_one(server_name(interface, variant), args.seconds)
            results.setdefault((interface, variant), []).append(result)
            print(f"{interface:6} {variant:9} {result['rps']:>10,.0f} req/s {result['cpu_us']:6.2f} us CPU/req",
                  flush=True)
    print()
    print(f"Command: python3 bench/observability.py --rounds {args.rounds} --seconds {args.seconds}")
    print("| interface | variant | req/s (median) | min–max | ÷ bare (median of rounds) | ÷ bare (medians) "
          "| worker CPU µs/req | CPU vs bare |")
    print("|---|---|---|---|---|---|---|---|")
    for interface in interfaces:
        bare_runs = results[(interface, "bare")]
        bare = statistics.median(r["rps"] for r in bare_runs)
        bare_cpu = statistics.median(r["cpu_us"] for r in bare_runs)
        for variant in VARIANTS:
            runs = results[(interface, variant)]
            rps = [r["rps"] for r in runs]
            median = statistics.median(rps)
            paired = statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, bare_runs))
            cpu = statistics.median(r["cpu_us"] for r in runs)
            print(f"| {interface} | {variant} | {median:,.0f} | {min(rps):,.0f}–{max(rps):,.0f} | {paired:.3f}× | "
                  f"{median / bare:.3f}× | {cpu:.2f} | {(cpu / bare_cpu - 1) * 100:+.1f}% |")


if __name__ == "__main__":
    main()
