"""Worker memory under a long keep-alive load: VmRSS (and its anonymous part) of the one
worker after start, then after each request count given.

The server runs pinned to core 0, ``wrk -t1 -c32`` on core 1 in runs of 3 s (each run
opens 32 new connections), as in bench/suite.py. RSS does not depend on the machine's
load, only on what the worker does, so the figures repeat on a busy machine.

Usage: python3 bench/memory.py [--servers prefork,prefork-defaults,prefork-wsgi-defaults]
                               [--steps 100000,1000000,2000000]
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import suite  # noqa: E402


def memory(pid):
    """(VmRSS, RssAnon) of ``pid`` in kB."""
    with open(f"/proc/{pid}/status") as fh:
        status = fh.read()
    return tuple(int(re.search(key + r":\s+(\d+) kB", status).group(1)) for key in ("VmRSS", "RssAnon"))


def profile(name, steps):
    server = suite.Server(name)
    try:
        pid = server.worker_pid()
        points = [(0, memory(pid))]
        total = 0
        for target in steps:
            while total < target:
                total += suite.run_wrk(server.port, "hello", 3)["requests"]
            points.append((total, memory(pid)))
        return points
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", default="prefork,prefork-defaults,prefork-wsgi-defaults")
    parser.add_argument("--steps", default="100000,1000000,2000000")
    args = parser.parse_args()
    steps = [int(step) for step in args.steps.split(",")]
    print("| server | " + " | ".join(["after start"] + [f"≥ {step:,} requests" for step in steps])
          + " | growth after the first step |")
    print("|---|" + "---|" * (len(steps) + 2))
    for name in args.servers.split(","):
        points = profile(name, steps)
        cells = [f"{rss:,} kB (anon {anon:,})" for _, (rss, anon) in points]
        growth = points[-1][1][0] - points[1][1][0]
        print(f"| {name} | " + " | ".join(cells) + f" | {growth:+,} kB |", flush=True)


if __name__ == "__main__":
    main()
