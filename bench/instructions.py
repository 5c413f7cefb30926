"""Instructions per request of the worker, by observability variant (callgrind).

Throughput on a shared VM varies by more than the few percent the access log and the
metrics cost; instruction counts do not. The real daemon (one worker) runs under
``valgrind --tool=callgrind`` (which follows the fork into the worker); a client in this
process sends N, then (in a second daemon) 2N keep-alive hello requests on 16
connections, 16 requests in flight at a time; the worker's instructions per request
are the difference of the two totals divided by N, so start-up and shutdown cancel out.

Variants (as in bench/observability.py): bare (--access-log= --metrics-bind=), log
(access log to a file), metrics (metrics on), defaults (both).

Usage: python3 bench/instructions.py [--requests N] [--interfaces events,wsgi]
"""

import argparse
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
VARIANTS = {"bare": ("", ""), "log": ("access.log", ""), "metrics": ("", "127.0.0.1:0"),
            "defaults": ("access.log", "127.0.0.1:0")}
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def drive(port, count, connections=16):
    socks = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(connections)]
    try:
        done = 0
        while done < count:
            batch = socks[:min(connections, count - done)]
            for sock in batch:
                sock.sendall(REQUEST)
            for sock in batch:
                data = b""
                while not data.endswith(b"Hello, World!"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError(f"closed after {data!r}")
                    data += chunk
            done += len(batch)
    finally:
        for sock in socks:
            sock.close()


def worker_instructions(interface, variant, count):
    tmp = tempfile.mkdtemp(prefix="bench-callgrind-")
    access, metrics = VARIANTS[variant]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    app = ["--interface", "wsgi", "apps:wsgi"] if interface == "wsgi" else ["apps:setup"]
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=no", "--branch-sim=no",
           f"--callgrind-out-file={tmp}/cg.%p", sys.executable, "-m", "prefork", *app, "--workers", "1",
           "--bind", f"fd://{listener.fileno()}", "--access-log", os.path.join(tmp, access) if access else "",
           "--metrics-bind", metrics, "--timeout", "600"]
    log_path = os.path.join(tmp, "daemon.log")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, BENCH]))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),),
                                env=env, cwd=BENCH)
    listener.close()
    try:
        deadline = time.monotonic() + 300
        while b"workers ready" not in open(log_path, "rb").read():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(open(log_path, errors="replace").read())
            time.sleep(0.2)
        drive(port, count)
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)
        totals = {}
        for path in glob.glob(os.path.join(tmp, "cg.*")):
            pid = int(path.rsplit(".", 1)[1])
            with open(path) as fh:
                match = re.search(r"^(?:summary|totals): (\d+)", fh.read(), re.M)
            totals[pid] = int(match.group(1))
        workers = [ir for pid, ir in totals.items() if pid != proc.pid]
        if len(workers) != 1:
            raise RuntimeError(f"expected one worker profile, got {totals}")
        if access:
            with open(os.path.join(tmp, access), "rb") as fh:
                lines = fh.read().count(b"\n")
            if lines != count:
                raise RuntimeError(f"{lines} access log lines for {count} requests")
        return workers[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--interfaces", default="events,wsgi")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    n = args.requests
    results = {}
    for interface in [i for i in args.interfaces.split(",") if i]:
        for variant in VARIANTS:
            one = worker_instructions(interface, variant, n)
            two = worker_instructions(interface, variant, 2 * n)
            results[(interface, variant)] = (two - one) / n
            print(f"{interface:6} {variant:9} {results[(interface, variant)]:>10,.0f} instructions/request",
                  flush=True)
    print()
    print(f"Command: python3 bench/instructions.py --requests {n} --interfaces {args.interfaces}")
    print("| interface | variant | instructions/request | more than bare |")
    print("|---|---|---|---|")
    for (interface, variant), per in results.items():
        bare = results[(interface, "bare")]
        print(f"| {interface} | {variant} | {per:,.0f} | {(per / bare - 1) * 100:+.1f}% |")


if __name__ == "__main__":
    main()
