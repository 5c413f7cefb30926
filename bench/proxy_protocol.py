"""Instructions per connection of the worker with the PROXY protocol off, v1 and v2
(callgrind), and optionally with another checkout's code for comparison.

Each connection carries one hello request with ``Connection: close`` (so accepting and
closing, where the PROXY step lives, are in every request), 16 connections at a time.
As in bench/instructions.py, the real daemon (one worker) runs under ``valgrind
--tool=callgrind``; N and then 2N connections are made on two daemons, and the worker's
instructions per connection are the difference of the totals divided by N, so start-up
and shutdown cancel out. Counts are deterministic: they can be quoted from a busy machine.

Usage: python3 bench/proxy_protocol.py [--connections N] [--baseline DIR]
  DIR: another checkout (e.g. ``git archive d428ed7 | tar -x -C DIR``) whose prefork runs
  the "off" variant as well, to show what the feature costs when it is off.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)

from instructions import callgrind_totals  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
V2_INET = (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + socket.inet_aton("192.0.2.10") + socket.inet_aton("10.0.0.1")
           + (40000).to_bytes(2, "big") + (8000).to_bytes(2, "big"))
HEADERS = {"off": b"", "v1": b"PROXY TCP4 192.0.2.10 10.0.0.1 40000 8000\r\n", "v2": V2_INET}


def drive(port, count, header, parallel=16):
    done = 0
    while done < count:
        socks = [socket.create_connection(("127.0.0.1", port), timeout=60)
                 for _ in range(min(parallel, count - done))]
        for sock in socks:
            sock.sendall(header + REQUEST)
        for sock in socks:
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            if not data.endswith(b"Hello, World!"):
                raise ConnectionError(f"unexpected answer {data!r}")
            sock.close()
        done += len(socks)


def worker_instructions(root, variant, count):
    tmp = tempfile.mkdtemp(prefix="bench-proxy-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=no", "--branch-sim=no",
           f"--callgrind-out-file={tmp}/cg.%p", sys.executable, "-m", "prefork", "apps:setup", "--workers", "1",
           "--bind", f"fd://{listener.fileno()}", "--access-log", "", "--metrics-bind", "", "--timeout", "600"]
    if variant != "off":
        cmd += ["--proxy-protocol"]
    log_path = os.path.join(tmp, "daemon.log")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, BENCH]))
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
        drive(port, count, HEADERS[variant])
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)
        totals = callgrind_totals(tmp)
        workers = [ir for pid, ir in totals.items() if pid != proc.pid]
        if len(workers) != 1:
            raise RuntimeError(f"expected one worker profile, got {totals}")
        return workers[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--baseline", default="")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    n = args.connections
    runs = [("this checkout", ROOT, v) for v in HEADERS]
    if args.baseline:
        runs.insert(0, ("baseline", os.path.abspath(args.baseline), "off"))
    results = []
    for name, root, variant in runs:
        per = (worker_instructions(root, variant, 2 * n) - worker_instructions(root, variant, n)) / n
        results.append((name, variant, per))
        print(f"{name:14} {variant:4} {per:>10,.0f} instructions/connection", flush=True)
    off = next(per for name, variant, per in results if name == "this checkout" and variant == "off")
    print()
    print(f"Command: python3 bench/proxy_protocol.py --connections {n}"
          + (f" --baseline {args.baseline}" if args.baseline else ""))
    print("| code | PROXY protocol | instructions/connection | against this checkout, off |")
    print("|---|---|---|---|")
    for name, variant, per in results:
        print(f"| {name} | {variant} | {per:,.0f} | {(per / off - 1) * 100:+.1f}% |")


if __name__ == "__main__":
    main()
