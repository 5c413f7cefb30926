"""Instructions per request of the worker, by observability variant (callgrind).

Throughput on a shared VM varies by more than the few percent the access log and the
metrics cost; instruction counts do not. The real daemon (one worker) runs under
``valgrind --tool=callgrind`` (which follows the fork into the worker); a client in this
process sends N, then (in a second daemon) 2N keep-alive hello requests on 16
connections, 16 requests in flight at a time; the worker's instructions per request
are the difference of the two totals divided by N, so start-up and shutdown cancel out.
Hash randomization is off (PYTHONHASHSEED=0) so that runs repeat; what still varies a
little is the worker's once-a-second work (heartbeat, log flush), which follows the
wall clock: runs on a loaded machine count a few hundred instructions more per request.

The request is wrk's (``GET /`` with one field) unless ``--request browser`` sends what a
browser sends for a page (twelve fields): the cost of each field shows in the difference.
``--request close`` sends wrk's request with ``Connection: close`` on a new connection each
time (16 connections open at a time; the server answers and closes, the client reads to
EOF): the figure is then per closed connection (accept, connection, one request, close).
``--request pipelined`` sends wrk's request 16 at a time in one write on one keep-alive
connection (as wrk with a pipelining script), reads the 16 answers, and repeats: the
figure is per request, to set beside ``minimal``'s.

Variants (as in bench/observability.py): bare (--access-log= --metrics-bind=), log
(access log to a file), metrics (metrics on), defaults (both).

The floor is bench/bare_loop.py (selectors + httptools, a canned response, no request
objects), measured the same way; the table gives each row's ratio to it.

With ``--loops [CHECKOUT]`` it measures instead the standalone hello server
(bench/hello_prefork.py, no daemon around it) on the default asyncio loop and on
uvloop, and, given a second checkout, that checkout's hello server as a baseline: the
instruction counterpart of bench/loops.sh.

With ``--floors`` it measures the bare loop alone on each loop prefork can run on:
selectors, asyncio's loop (readiness callbacks, and its own transports), uvloop (the
same two): the least a server on that loop can spend per request.

Usage: python3 bench/instructions.py [--requests N] [--interfaces events,wsgi,asgi]
                                     [--variants bare,log,metrics,defaults]
                                     [--request minimal|browser|close|pipelined]
       python3 bench/instructions.py --loops [CHECKOUT] [--requests N]
       python3 bench/instructions.py --floors [--requests N]
       (any of them with --keep DIR: the worker profiles are kept in DIR)
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
REQUESTS = {
    # what wrk sends: one field
    "minimal": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    # what a browser sends for a page: twelve fields, about 600 bytes
    "browser": (b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux "
                b"x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\nAccept: "
                b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: "
                b"en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n"
                b"Cookie: session=abc123; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: "
                b"document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nCache-Control: "
                b"max-age=0\r\n\r\n"),
    # one request per connection: the server answers and closes
    "close": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    # wrk's request, PIPELINE_DEPTH of them per write on one connection
    "pipelined": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 16,
}
PIPELINE_DEPTH = 16  # the heads in one write of --request pipelined
REQUEST = REQUESTS["minimal"]  # --request
KEEP = None  # --keep DIR: the worker's callgrind profiles are copied there, for callgrind_annotate


def drive(port, count, connections=16, request=None, ending=b"Hello, World!"):
    """``count`` requests (``request``, else ``--request``'s) over ``connections`` kept-alive
    connections, each answer read until it ends with ``ending``."""
    request = REQUEST if request is None else request
    if request is REQUESTS["close"]:
        return drive_closing(port, count, connections)
    if request is REQUESTS["pipelined"]:
        return drive_pipelined(port, count, ending)
    socks = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(connections)]
    try:
        done = 0
        while done < count:
            batch = socks[:min(connections, count - done)]
            for sock in batch:
                sock.sendall(request)
            for sock in batch:
                data = b""
                while not data.endswith(ending):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError(f"closed after {data!r}")
                    data += chunk
            done += len(batch)
    finally:
        for sock in socks:
            sock.close()


def drive_pipelined(port, count, ending=b"Hello, World!"):
    """``count`` requests on one kept-alive connection, ``PIPELINE_DEPTH`` heads per write
    (the last write fewer when ``count`` is not a multiple), all their answers read
    before the next write."""
    one = REQUESTS["minimal"]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        done = 0
        while done < count:
            depth = min(PIPELINE_DEPTH, count - done)
            sock.sendall(one * depth)
            data = b""
            while data.count(ending) < depth:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed after {data!r}")
                data += chunk
            if data.count(ending) != depth or not data.endswith(ending):
                raise ConnectionError(f"{data.count(ending)} answers to {depth} requests: {data[-200:]!r}")
            done += depth


def drive_closing(port, count, connections=16):
    """``count`` requests, each on a connection of its own that the server closes."""
    done = 0
    while done < count:
        socks = [socket.create_connection(("127.0.0.1", port), timeout=60)
                 for _ in range(min(connections, count - done))]
        try:
            for sock in socks:
                sock.sendall(REQUEST)
            for sock in socks:
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if not data.endswith(b"Hello, World!"):
                    raise ConnectionError(f"closed after {data!r}")
        finally:
            for sock in socks:
                sock.close()
        done += len(socks)


def callgrind_totals(tmp):
    totals = {}
    for path in glob.glob(os.path.join(tmp, "cg.*")):
        pid = int(path.rsplit(".", 1)[1])
        with open(path) as fh:
            match = re.search(r"^(?:summary|totals): (\d+)", fh.read(), re.M)
        totals[pid] = int(match.group(1))
    return totals


FLOORS = {"selectors": [], "asyncio add_reader": ["--asyncio"], "WorkerLoop add_reader": ["--asyncio", "--worker-loop"],
          "asyncio Protocol": ["--protocol"],
          "uvloop add_reader": ["--asyncio", "--uvloop"], "uvloop Protocol": ["--protocol", "--uvloop"]}


def bare_loop_instructions(count, flags=()):
    """Instructions of bench/bare_loop.py serving ``count`` requests (start-up included)."""
    return standalone_instructions([os.path.join(BENCH, "bare_loop.py"), *flags], count)


def standalone_instructions(argv, count, loop=None):
    """Instructions of a one-process server (``argv`` + a listening socket's ``fd://N``
    or, for a hello server, its port) serving ``count`` requests; SIGTERM, then SIGINT,
    ends it."""
    tmp = tempfile.mkdtemp(prefix="bench-callgrind-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    where = f"fd://{listener.fileno()}" if loop is None else str(port)
    if loop is not None:
        listener.close()  # the hello server binds the port itself
    env = dict(os.environ, PYTHONHASHSEED="0", PREFORK_LOOP=loop or "asyncio")
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=no", "--branch-sim=no",
           f"--callgrind-out-file={tmp}/cg.%p", sys.executable, *argv, where]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            pass_fds=() if loop is not None else (listener.fileno(),), env=env)
    listener.close()
    return one_profile(proc, tmp, argv, lambda: drive(port, count),
                       signal.SIGTERM if loop is None else signal.SIGINT)


def one_profile(proc, tmp, name, load, stop=signal.SIGTERM):
    """The instructions of ``proc``, a one-process server under callgrind writing its
    profile into ``tmp``: once it prints its first line, ``load()`` runs, ``stop`` ends
    it. ``proc`` and ``tmp`` are cleaned up whatever happens."""
    try:
        if not proc.stdout.readline().strip():
            raise RuntimeError(f"{name} did not start")
        load()
        proc.send_signal(stop)
        proc.wait(300)
        totals = callgrind_totals(tmp)
        if len(totals) != 1:
            raise RuntimeError(f"expected one profile, got {totals}")
        return next(iter(totals.values()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)


def worker_instructions(interface, variant, count):
    tmp = tempfile.mkdtemp(prefix="bench-callgrind-")
    access, metrics = VARIANTS[variant]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    app = {"wsgi": ["--interface", "wsgi", "apps:wsgi"], "asgi": ["--interface", "asgi", "apps:asgi"]}.get(
        interface, ["apps:setup"])
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=no", "--branch-sim=no",
           f"--callgrind-out-file={tmp}/cg.%p", sys.executable, "-m", "prefork", *app, "--workers", "1",
           "--bind", f"fd://{listener.fileno()}", "--access-log", os.path.join(tmp, access) if access else "",
           "--metrics-bind", metrics, "--timeout", "600"]
    log_path = os.path.join(tmp, "daemon.log")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, BENCH]), PYTHONHASHSEED="0")
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
        totals = callgrind_totals(tmp)
        workers = [ir for pid, ir in totals.items() if pid != proc.pid]
        if len(workers) != 1:
            raise RuntimeError(f"expected one worker profile, got {totals}")
        if KEEP:
            worker = next(pid for pid in totals if pid != proc.pid)
            os.makedirs(KEEP, exist_ok=True)
            shutil.copy(os.path.join(tmp, f"cg.{worker}"), os.path.join(KEEP, f"{interface}.{variant}.{count}"))
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
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--loops", nargs="?", const="", default=None, metavar="CHECKOUT")
    parser.add_argument("--floors", action="store_true",
                        help="the bare loop on selectors, asyncio and uvloop (readiness and transports)")
    parser.add_argument("--request", choices=sorted(REQUESTS), default="minimal",
                        help="the request sent: wrk's (one field), a browser's (twelve), or wrk's with "
                        "Connection: close on a new connection each (per closed connection), or "
                        "wrk's 16 to a write on one connection (pipelined)")
    parser.add_argument("--keep", metavar="DIR", help="keep each worker's callgrind profile in DIR "
                        "(as INTERFACE.VARIANT.REQUESTS), to read with callgrind_annotate")
    args = parser.parse_args()
    global KEEP, REQUEST
    KEEP = args.keep
    REQUEST = REQUESTS[args.request]
    if shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    n = args.requests
    if args.floors:
        base = None
        for name, flags in FLOORS.items():
            per = (bare_loop_instructions(2 * n, flags) - bare_loop_instructions(n, flags)) / n
            base = base or per
            print(f"| {name} | {per:,.0f} | {per / base:.2f} |", flush=True)
        return
    if args.loops is not None:
        servers = [("asyncio", os.path.join(BENCH, "hello_prefork.py"), "asyncio"),
                   ("uvloop", os.path.join(BENCH, "hello_prefork.py"), "uvloop")]
        if args.loops:
            servers.insert(0, ("baseline", os.path.join(args.loops, "bench", "hello_prefork.py"), "asyncio"))
        for name, script, loop in servers:
            per = (standalone_instructions([script], 2 * n, loop) - standalone_instructions([script], n, loop)) / n
            print(f"{name:9} {per:>10,.0f} instructions/request", flush=True)
        return
    closing = args.request == "close"
    unit = "instructions/closed connection" if closing else "instructions/request"
    floor = None  # the bare loop keeps every connection open: no floor for --request close
    if not closing:
        floor = (bare_loop_instructions(2 * n) - bare_loop_instructions(n)) / n
        print(f"{'loop':6} {'bare':9} {floor:>10,.0f} {unit} (bench/bare_loop.py)", flush=True)
    results = {}
    variants = [v for v in args.variants.split(",") if v]
    for interface in [i for i in args.interfaces.split(",") if i]:
        for variant in variants:
            one = worker_instructions(interface, variant, n)
            two = worker_instructions(interface, variant, 2 * n)
            results[(interface, variant)] = (two - one) / n
            print(f"{interface:6} {variant:9} {results[(interface, variant)]:>10,.0f} {unit}", flush=True)
    print()
    print(f"Command: python3 bench/instructions.py --requests {n} --interfaces {args.interfaces}"
          + (f" --variants {args.variants}" if args.variants != ",".join(VARIANTS) else "")
          + (f" --request {args.request}" if args.request != "minimal" else ""))
    print(f"| interface | variant | {unit} | more than bare | × the bare loop |")
    print("|---|---|---|---|---|")
    if floor:
        print(f"| bare loop | - | {floor:,.0f} | | 1.00 |")
    for (interface, variant), per in results.items():
        bare = results.get((interface, "bare"))
        more = f"{(per / bare - 1) * 100:+.1f}%" if bare else ""
        print(f"| {interface} | {variant} | {per:,.0f} | {more} | {f'{per / floor:.2f}' if floor else '-'} |")


if __name__ == "__main__":
    main()
