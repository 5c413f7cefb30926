"""Threaded WSGI: a view that waits 200 ms (a database), prefork against gunicorn gthread.

Both servers run 2 workers x 8 threads (prefork ``--workers 2 --threads 8``, gunicorn
``-k gthread --threads 8 -w 2``) on one listening socket bound here and passed as
``fd://N``, their whole process tree pinned to core 0; ``wrk -c20`` (20 concurrent
keep-alive clients) runs pinned to core 1. Rounds are interleaved (prefork, gunicorn,
prefork, ...); the medians are compared. The ceiling is 2 x 8 / 0.2 s = 80 requests/s.

Needs (nothing is installed by this script): wrk and taskset on PATH, and gunicorn in
the virtualenv of the Python running it (``/work/venv/bin/pip install gunicorn``) or
at ``--gunicorn PATH``.

Usage: python3 bench/wsgi_threads.py [--rounds 3] [--seconds 5] [--gunicorn PATH]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.dirname(os.path.abspath(__file__))
VIEW_SECONDS = 0.2


def app(environ, start_response):
    """The view: 200 ms of waiting on "the database", then a small answer."""
    time.sleep(VIEW_SECONDS)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


def command(name, fd, gunicorn, tmp):
    if name == "prefork":
        return [sys.executable, "-m", "prefork", "--interface", "wsgi", "wsgi_threads:app", "--workers", "2",
                "--threads", "8", "--bind", f"fd://{fd}", "--access-log", os.path.join(tmp, "access.log"),
                "--metrics-bind", "127.0.0.1:0"]
    return [gunicorn, "-k", "gthread", "--threads", "8", "-w", "2", "--bind", f"fd://{fd}", "wsgi_threads:app"]


def ready(port, deadline):
    """True once the server answers a request (the view included)."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def run(name, seconds, gunicorn):
    tmp = tempfile.mkdtemp(prefix="bench-wsgi-threads-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, BENCH]))
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen(["taskset", "-c", "0"] + command(name, listener.fileno(), gunicorn, tmp), env=env,
                            cwd=BENCH, stdout=log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),),
                            start_new_session=True)
    listener.close()
    try:
        if not ready(port, time.monotonic() + 30):
            raise RuntimeError(f"{name} did not start:\n" + open(log.name, errors="replace").read())
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t2", "-c20", f"-d{seconds}s", "--latency",
                              "--timeout", "10s", f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
        p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)] if p99 else float("nan")
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
        return rate, p99_ms, errors.group(0) if errors else ""
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--gunicorn", default=os.path.join(os.path.dirname(sys.executable), "gunicorn"))
    args = parser.parse_args()
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if not os.path.exists(args.gunicorn):
        missing.append(f"gunicorn ({args.gunicorn}: {sys.executable} -m pip install gunicorn)")
    if missing:
        print("missing: " + ", ".join(missing), file=sys.stderr)
        return 2
    names = ("prefork", "gunicorn")
    results = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            rate, p99, errors = run(name, args.seconds, args.gunicorn)
            results[name].append(rate)
            print(f"  {name:9} {rate:8.1f} req/s  p99 {p99:7.1f} ms  {errors}", flush=True)
    print(f"\n200 ms view, 2 workers x 8 threads, wrk -t2 -c20 -d{args.seconds}s, server on core 0, wrk on core 1")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name in names:
        print(f"{name:9} {medians[name]:8.1f} req/s (median of {args.rounds}; ceiling 80)")
    print(f"prefork / gunicorn gthread = {medians['prefork'] / medians['gunicorn']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
