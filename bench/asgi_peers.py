"""ASGI: prefork against uvicorn, same app, same run.

HTTP hello keep-alive (wrk -t1 -c32): prefork on uvloop, prefork on the default asyncio
loop, uvicorn with httptools on uvloop. WebSocket echo (a raw-frame client with 16
connections, one 5-byte text message in flight per connection): prefork (wsproto) on
uvloop and on the default loop, uvicorn (websockets, its default) on uvloop.

Each server runs one worker, its whole process tree pinned to core 0; the load
generator is pinned to core 1. Rounds are interleaved. uvicorn comes from the peers'
virtualenv (created on first use, as for bench/wsgi_peers.py).

The machine these run on is shared and busy, so throughput swings between rounds; with
``--instructions N`` the same three servers run under callgrind instead and the script
reports CPU instructions per hello request and per echoed message (the worker's count
for N and 2N of them, differenced, so start-up and shutdown cancel out): deterministic,
but blind to time spent in the kernel.

Usage: python3 bench/asgi_peers.py [rounds] [seconds]   (loopback only)
       python3 bench/asgi_peers.py --instructions [N]
"""

import base64
import glob
import os
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("PREFORK_PEERS_VENV", "/tmp/prefork-peers")
TESTS = os.path.join(ROOT, "tests")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from suite import ensure_tools as ensure_peers, free_port, wait_port  # noqa: E402
from instructions import drive  # noqa: E402

SERVERS = ("prefork-uvloop", "prefork-asyncio", "uvicorn")


def command(name, port, app):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]))
    if name.startswith("prefork"):
        loop = name.split("-")[1]
        return [sys.executable, "-m", "prefork", "--interface", "asgi", app, "--workers", "1", "--loop", loop,
                "--bind", f"127.0.0.1:{port}", "--access-log", "", "--metrics-bind", "", "--log-level",
                "warning"], env
    if name == "uvicorn":
        return [os.path.join(VENV, "bin", "uvicorn"), "--loop", "uvloop", "--http", "httptools", "--workers", "1",
                "--no-access-log", "--log-level", "warning", "--host", "127.0.0.1", "--port", str(port), app], env
    raise ValueError(name)


def start(name, app):
    port = free_port()
    cmd, env = command(name, port, app)
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, env=env, cwd=TESTS, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(port)
    return proc, port


def stop(proc):
    os.killpg(proc.pid, 9)
    proc.wait()


def http_round(name, seconds):
    proc, port = start(name, "apps.asgi_apps:hello")
    try:
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=seconds + 30).stdout
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    finally:
        stop(proc)


def ws_round(name, seconds):
    proc, port = start(name, "apps.asgi_apps:echo_ws")
    try:
        out = subprocess.run(["taskset", "-c", "1", sys.executable, os.path.abspath(__file__), "--ws-client",
                              str(port), str(seconds)], capture_output=True, text=True, timeout=seconds + 30)
        return float(out.stdout.strip())
    finally:
        stop(proc)


# -- the WebSocket load generator ---------------------------------------------------------
def ws_client(port, seconds, connections=16):
    """Echo messages per second over ``connections`` sockets (one message in flight each)."""
    frame = bytes([0x81, 0x80 | 5]) + b"\x01\x02\x03\x04" + bytes(b ^ m for b, m in zip(b"hello", b"\x01\x02\x03\x04\x01"))
    reply = b"\x81\x05hello"
    selector = selectors.DefaultSelector()
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, [b""])
        sock.send(frame)
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(0.5):
            data = key.data[0] + key.fileobj.recv(65536)
            while data.startswith(reply):
                data = data[len(reply):]
                count += 1
                key.fileobj.send(frame)
            key.data[0] = data
    return count / seconds


# -- instructions per request / message (callgrind) -------------------------------------------
def ws_drive(port, count, connections=16):
    """``count`` echoes over ``connections`` sockets, one message in flight on each."""
    frame = bytes([0x81, 0x80 | 5]) + b"\x01\x02\x03\x04" + bytes(b ^ m for b, m in zip(b"hello", b"\x01\x02\x03\x04\x01"))
    reply = b"\x81\x05hello"
    socks = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        socks.append(sock)
    done = 0
    while done < count:
        batch = socks[:min(connections, count - done)]
        for sock in batch:
            sock.sendall(frame)
        for sock in batch:
            data = b""
            while data != reply:
                chunk = sock.recv(64)
                if not chunk:
                    raise ConnectionError(data)
                data += chunk
        done += len(batch)
    for sock in socks:
        sock.close()


def worker_instructions(name, kind, count):
    tmp = tempfile.mkdtemp(prefix="bench-asgi-callgrind-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    app = "apps.asgi_apps:hello" if kind == "http" else "apps.asgi_apps:echo_ws"
    if name.startswith("prefork"):
        server = [sys.executable, "-m", "prefork", "--interface", "asgi", app, "--workers", "1", "--loop",
                  name.split("-")[1], "--bind", f"fd://{listener.fileno()}", "--access-log", "", "--metrics-bind", "",
                  "--timeout", "600"]
        ready = b"workers ready"
    else:
        server = [os.path.join(VENV, "bin", "python"), "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools",
                  "--no-access-log", "--fd", str(listener.fileno()), app]
        ready = b"Application startup complete"
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=no", "--branch-sim=no",
           f"--callgrind-out-file={tmp}/cg.%p"] + server
    log_path = os.path.join(tmp, "server.log")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),), env=env,
                                cwd=TESTS)
    listener.close()
    try:
        deadline = time.monotonic() + 300
        while ready not in open(log_path, "rb").read():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(open(log_path, errors="replace").read())
            time.sleep(0.2)
        (drive if kind == "http" else ws_drive)(port, count)
        proc.send_signal(signal.SIGTERM if name.startswith("prefork") else signal.SIGINT)
        proc.wait(300)
        totals = {}
        for path in glob.glob(os.path.join(tmp, "cg.*")):
            with open(path) as fh:
                totals[int(path.rsplit(".", 1)[1])] = int(re.search(r"^(?:summary|totals): (\d+)", fh.read(), re.M).group(1))
        serving = [ir for pid, ir in totals.items() if pid != proc.pid] if name.startswith("prefork") else \
            [totals[proc.pid]]
        if len(serving) != 1:
            raise RuntimeError(f"expected one serving process, got {totals}")
        return serving[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def instructions(count):
    if shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    ensure_peers()
    results = {}
    for kind in ("http", "ws"):
        for name in SERVERS:
            one = worker_instructions(name, kind, count)
            two = worker_instructions(name, kind, 2 * count)
            results[(kind, name)] = (two - one) / count
            print(f"{kind:4} {name:16} {results[(kind, name)]:>10,.0f} instructions per "
                  f"{'request' if kind == 'http' else 'message'}", flush=True)
    for kind in ("http", "ws"):
        base = results[(kind, "uvicorn")]
        for name in SERVERS[:2]:
            print(f"{kind:4} uvicorn / {name} = {base / results[(kind, name)]:.2f}x (fewer instructions: faster)")


def main():
    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage is the docstring
        sys.exit(print(__doc__))
    if sys.argv[1:2] == ["--ws-client"]:
        print(ws_client(int(sys.argv[2]), float(sys.argv[3])))
        return
    if sys.argv[1:2] == ["--instructions"]:
        instructions(int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ensure_peers()
    results = {(kind, name): [] for kind in ("http", "ws") for name in SERVERS}
    for _ in range(rounds):
        for name in SERVERS:
            results[("http", name)].append(http_round(name, seconds))
        for name in SERVERS:
            results[("ws", name)].append(ws_round(name, seconds))
    medians = {key: statistics.median(values) for key, values in results.items()}
    for (kind, name), values in results.items():
        unit = "req/s" if kind == "http" else "msg/s"
        print(f"{kind:4} {name:16} {medians[(kind, name)]:>10,.0f} {unit}  "
              f"(rounds: {', '.join(f'{v:,.0f}' for v in values)})")
    for kind in ("http", "ws"):
        base = medians[(kind, "uvicorn")]
        print(f"{kind:4} prefork-uvloop / uvicorn  = {medians[(kind, 'prefork-uvloop')] / base:.2f}x")
        print(f"{kind:4} prefork-asyncio / uvicorn = {medians[(kind, 'prefork-asyncio')] / base:.2f}x")


if __name__ == "__main__":
    main()
