"""WSGI hello world: prefork against gunicorn (gthread) and granian (WSGI), same run.

Each server runs one worker, its whole process tree pinned to core 0; wrk -t1 -c32 runs
pinned to core 1. Rounds are interleaved (prefork, gunicorn, granian, prefork, ...).
Peers come from a separate virtualenv (created on first use).

Usage: python3 bench/wsgi_peers.py [rounds] [seconds]   (loopback only)
"""

import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("PREFORK_PEERS_VENV", "/tmp/prefork-peers")
TESTS = os.path.join(ROOT, "tests")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from suite import ensure_tools as ensure_peers, free_port, wait_port  # noqa: E402


def command(name, port):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]))
    if name == "prefork":
        return [sys.executable, "-m", "prefork", "--interface", "wsgi", "apps.wsgi_apps:hello", "--workers", "1",
                "--bind", f"127.0.0.1:{port}", "--access-log", "", "--metrics-bind", ""], env
    if name == "gunicorn":
        return [os.path.join(VENV, "bin", "gunicorn"), "-k", "gthread", "--threads", "4", "-w", "1", "-b",
                f"127.0.0.1:{port}", "apps.wsgi_apps:hello"], env
    if name == "granian":
        return [os.path.join(VENV, "bin", "granian"), "--interface", "wsgi", "--workers", "1", "--host",
                "127.0.0.1", "--port", str(port), "apps.wsgi_apps:hello"], env
    raise ValueError(name)


def run(name, seconds):
    port = free_port()
    cmd, env = command(name, port)
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, env=env, cwd=TESTS, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port)
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=seconds + 30).stdout
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def main():
    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage is the docstring
        sys.exit(print(__doc__))
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ensure_peers()
    names = ("prefork", "gunicorn", "granian")
    results = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            results[name].append(run(name, seconds))
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name in names:
        print(f"{name:9} {medians[name]:>10,.0f} req/s  (rounds: {', '.join(f'{v:,.0f}' for v in results[name])})")
    print(f"prefork / granian  = {medians['prefork'] / medians['granian']:.2f}x")
    print(f"prefork / gunicorn = {medians['prefork'] / medians['gunicorn']:.2f}x")


if __name__ == "__main__":
    main()
