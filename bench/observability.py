"""What the access log and metrics cost: prefork "bare" against "defaults", per interface.

One worker, its whole process tree pinned to core 0; ``wrk -t1 -c32`` pinned to core 1;
keep-alive hello world. Every server is started once and gets a 1 s warm-up run; the
rounds then measure each in turn (the others idle), so the runs of a round are seconds
apart and their ratios cancel the drift of a shared machine (``--fresh``: a new server
per measurement instead). Variants, all of them in every round, in an order shuffled
per round (fixed seed):
  bare      --access-log= --metrics-bind=
  log       access log to a file, no metrics
  metrics   metrics on, no access log
  defaults  access log to a file and metrics on (what a default install runs)
Reports the median req/s; each variant against bare of the same interface as the median
of the per-round ratios and as the ratio of the medians; and the
worker's CPU time per request (from /proc, user + system). ``--baseline CHECKOUT`` runs
each variant but bare once more on that checkout's prefork (``VARIANT@baseline``), in the
same rounds: a change measured against the commit before it.

Usage: python3 bench/observability.py [--rounds N] [--seconds S] [--interfaces events,wsgi]
                                      [--variants bare,log,metrics,defaults] [--baseline CHECKOUT]
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
    variant = variant.partition("@")[0]
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


def measure(server, worker, seconds):
    before = cpu_seconds(worker)
    result = suite.run_wrk(server.port, "hello", seconds)
    result["cpu_us"] = (cpu_seconds(worker) - before) / result["requests"] * 1e6
    return result


def check_log(server):
    if "log" in server.name or "defaults" in server.name:
        path = os.path.join(server.tmp, "access.log")
        assert os.path.getsize(path) > 0, "the access log is empty"


def start(pair, baseline):
    interface, variant = pair
    return suite.Server(server_name(interface, variant), baseline if variant.endswith("@baseline") else suite.ROOT)


def run_one(pair, seconds, baseline):
    """A fresh server for one measurement (``--fresh``)."""
    server = start(pair, baseline)
    try:
        worker = worker_of(server.proc.pid)
        suite.run_wrk(server.port, "hello", 1)  # warm-up
        result = measure(server, worker, seconds)
        check_log(server)
        return result
    finally:
        server.stop()


class Resident:
    """Every server started once and warmed up; measured in turn, idle in between (an
    idle server costs nothing), so that the runs of one round are seconds apart."""

    def __init__(self, pairs, baseline):
        self.servers = {}
        try:
            for pair in pairs:
                server = start(pair, baseline)
                self.servers[pair] = (server, worker_of(server.proc.pid))
                suite.run_wrk(server.port, "hello", 1)
        except BaseException:
            self.stop()
            raise

    def run(self, pair, seconds):
        server, worker = self.servers[pair]
        return measure(server, worker, seconds)

    def stop(self):
        for server, _ in self.servers.values():
            check_log(server)
            server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--interfaces", default="events,wsgi")
    parser.add_argument("--fresh", action="store_true", help="a new server for every measurement")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="a subset of bare,log,metrics,defaults (bare is always run)")
    parser.add_argument("--baseline", help="a checkout of another commit: its variants (but bare) run too")
    args = parser.parse_args()
    variants = [v for v in VARIANTS if v == "bare" or v in args.variants.split(",")]
    suite.ensure_tools()
    interfaces = [i for i in args.interfaces.split(",") if i]
    results = {}
    shuffle = random.Random(11)
    if args.baseline:
        variants += [f"{v}@baseline" for v in variants if v != "bare"]
    pairs = [(interface, variant) for interface in interfaces for variant in variants]
    resident = None if args.fresh else Resident(pairs, args.baseline)
    try:
        for _ in range(args.rounds):
            run_round(pairs, shuffle, resident, args.seconds, results, args.baseline)
    finally:
        if resident is not None:
            resident.stop()
    report(args, interfaces, variants, results)


def run_round(pairs, shuffle, resident, seconds, results, baseline=None):
    order = list(pairs)
    shuffle.shuffle(order)
    for interface, variant in order:
        pair = (interface, variant)
        result = run_one(pair, seconds, baseline) if resident is None else resident.run(pair, seconds)
        results.setdefault((interface, variant), []).append(result)
        print(f"{interface:6} {variant:18} {result['rps']:>10,.0f} req/s {result['cpu_us']:6.2f} us CPU/req",
              flush=True)


def report(args, interfaces, variants, results):
    print()
    print(f"Command: python3 bench/observability.py --rounds {args.rounds} --seconds {args.seconds} "
          f"--interfaces {args.interfaces} --variants {','.join(v for v in variants if '@' not in v)}"
          + (" --fresh" if args.fresh else "") + (f" --baseline {args.baseline}" if args.baseline else ""))
    print("| interface | variant | req/s (median) | min–max | ÷ bare (median of rounds) | ÷ bare (medians) "
          "| worker CPU µs/req | CPU vs bare |")
    print("|---|---|---|---|---|---|---|---|")
    for interface in interfaces:
        bare_runs = results[(interface, "bare")]
        bare = statistics.median(r["rps"] for r in bare_runs)
        bare_cpu = statistics.median(r["cpu_us"] for r in bare_runs)
        for variant in variants:
            runs = results[(interface, variant)]
            rps = [r["rps"] for r in runs]
            median = statistics.median(rps)
            paired = statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, bare_runs))
            cpu = statistics.median(r["cpu_us"] for r in runs)
            print(f"| {interface} | {variant} | {median:,.0f} | {min(rps):,.0f}–{max(rps):,.0f} | {paired:.3f}× | "
                  f"{median / bare:.3f}× | {cpu:.2f} | {(cpu / bare_cpu - 1) * 100:+.1f}% |")


if __name__ == "__main__":
    main()
