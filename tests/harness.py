"""Drives a reference server (Node's or prefork's) with raw bytes on 127.0.0.1.

A scenario sends exact bytes (optionally in pieces, with pauses or a half-close), then
reads until the server closes or the scenario's window ends. The result holds the bytes
(Date masked), whether and when the server closed, and the server's events for that
connection, so that prefork can be compared with the spec and with Node.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node")


def need_node():
    """The path of ``node``, a tool this suite needs: a test that compares with Node fails
    without it (a skipped comparison would prove nothing)."""
    assert NODE is not None, "node (a tool this suite needs) is not on PATH"
    return NODE

DATE = re.compile(rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT")
IGNORED_EVENTS = {"accept", "listening", "sync", "socket.error", "socket.close", "cmd"}


@contextlib.contextmanager
def node_script_port(script):
    """Run ``script`` (Node source that prints its server's port on one line and exits
    when its stdin closes) and yield that port; the process is ended, by closing its
    stdin and then killing it, when the block ends."""
    proc = subprocess.Popen([NODE, "-e", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=dict(os.environ))
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


def get_until_close(port, path, websocket=False, fields=b""):
    """A GET of ``path`` on a new loopback connection (a WebSocket handshake when
    ``websocket``, else with ``Connection: close``; ``fields``: more head lines, each
    ending in CRLF), and every byte until the server closes it."""
    import base64
    import os
    import socket

    upgrade = (b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: " + base64.b64encode(os.urandom(16))
               + b"\r\nSec-WebSocket-Version: 13\r\n") if websocket else b"Connection: close\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: h\r\n" + upgrade + fields + b"\r\n")
        return read_until_close(sock)


def read_until_close(sock):
    """Every byte until the peer closes (a reset counts as a close)."""
    data = bytearray()  # (bytes += bytes would copy all that came before, each time)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


def read_until(sock, needle, timeout=5.0):
    """What the server sent until ``needle`` is in it, or it closed, or ``timeout``
    passed (what came by then: the caller's assertion says what was missing)."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data


def reading_client(port, request, taking=1 << 20):
    """A client with a small receive window that sends ``request`` and reads ``taking``
    bytes of the answer (then reads no more): the socket."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    got = 0
    while got < taking:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {got} bytes"
        got += len(chunk)
    return sock


def reset(sock):
    """Close ``sock`` with a reset (SO_LINGER 0), as a client that gives up does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def mask(data):
    return DATE.sub(b"Date: <DATE>", data)


class RefServer:
    """One reference server process; ``kind`` is 'node' or 'prefork'."""

    def __init__(self, kind, config=None, loop=None):
        config = json.dumps(config or {})
        env = dict(os.environ)
        if kind == "node":
            cmd = [NODE, os.path.join(HERE, "ref_server.js"), "0", config]
        else:
            cmd = [sys.executable, os.path.join(HERE, "ref_server.py"), "0", config]
            if loop is not None:
                env["PREFORK_TEST_LOOP"] = loop  # the worker loop prefork runs on
        self.kind = kind
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.events = []
        self._cond = threading.Condition()
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        listening = self.wait_for(lambda e: e["ev"] == "listening", 10)
        self.port = listening["port"]

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_stderr(self):
        self.stderr = self.proc.stderr.read()

    def wait_for(self, predicate, timeout=5.0, start=0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[start:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"{self.kind}: no matching event; got {self.events[start:]}")
                self._cond.wait(remaining)

    def command(self, cmd):
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()

    def sync(self):
        start = len(self.events)
        self.command("sync")
        self.wait_for(lambda e: e["ev"] == "sync", 5, start)

    def conn_id(self, port, start, timeout=5.0):
        return self.wait_for(lambda e: e["ev"] == "accept" and e["port"] == port, timeout, start)["conn"]

    def conn_events(self, conn):
        with self._cond:
            return [e for e in self.events if e.get("conn") == conn and e["ev"] not in IGNORED_EVENTS]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.command("exit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class Result:
    def __init__(self, data, closed, close_after, events):
        self.data = data
        self.masked = mask(data)
        self.closed = closed
        self.close_after = close_after  # seconds from the last send to the close
        self.events = events

    def event_names(self):
        return [e["ev"] for e in self.events]

    def summary(self):
        return {
            "bytes": self.masked,
            "closed": self.closed,
            "events": [(e["ev"], e.get("code"), e.get("bytesParsed")) for e in self.events],
        }


def exchange(server, steps, window=0.5, until=None):
    """Run ``steps`` on a new connection to ``server`` and collect the outcome.

    Steps: bytes to send; ("pause", seconds); ("shutdown",) for a half-close;
    ("wait", n) to read until at least n bytes arrived; ("rst",) to reset.
    After the steps, reads until the server closes or ``window`` seconds pass with the
    connection still open (or ``until`` bytes are in, if given).
    """
    start = len(server.events)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = server.conn_id(sock.getsockname()[1], start)
    data = bytearray()
    closed = False
    last_send = time.monotonic()

    def read_some(deadline):
        nonlocal closed
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            closed = True
            return False
        if not chunk:
            closed = True
            return False
        data.extend(chunk)
        return True

    for step in steps:
        if isinstance(step, (bytes, bytearray)):
            try:
                sock.sendall(step)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            last_send = time.monotonic()
        elif step[0] == "pause":
            deadline = time.monotonic() + step[1]
            while not closed and read_some(deadline):
                pass
        elif step[0] == "shutdown":
            sock.shutdown(socket.SHUT_WR)
            last_send = time.monotonic()
        elif step[0] == "wait":
            deadline = time.monotonic() + 5
            while not closed and len(data) < step[1] and read_some(deadline):
                pass
        elif step[0] == "rst":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
            closed = True
            sock = None
            break
    deadline = time.monotonic() + window
    while sock is not None and not closed:
        if until is not None and len(data) >= until:
            break
        if not read_some(deadline):
            break
    close_after = time.monotonic() - last_send if closed else None
    server.sync()  # while the client is still connected: every event so far is the server's doing
    events = server.conn_events(conn)
    if sock is not None:
        sock.close()
    return Result(bytes(data), closed, close_after, events)


def exchanges(servers, steps, window=0.5):
    """``exchange`` of the same steps with each of ``servers`` at once, a thread each (each
    server has that one connection, as with ``exchange``), in the time of the longest
    window, not their sum: once all are over, a finished future for each, in order (its
    ``result()`` the Result, or raising that exchange's own error)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(servers)) as pool:
        return [pool.submit(exchange, server, steps, window) for server in servers]


def node_events(script, joined=False, timeout=10):
    """The events a Node script logged: it gets ``http``, ``net``, ``log(...)`` (each
    call one event: its arguments, or with ``joined`` one string of them) and ``done()``
    (prints them and exits once they are written: a pipe takes 64 KiB at a time), within
    ``timeout`` seconds. Skips the test where node is missing."""
    if NODE is None:
        import pytest
        pytest.skip("node is not installed")
    push = "events.push(a.join(' '))" if joined else "events.push(a)"
    script = ("const http = require('http'); const net = require('net'); const events = [];\n"
              f"const log = (...a) => {push};\n"
              "const done = () => { process.stdout.write(JSON.stringify(events) + '\\n', () => process.exit(0)); };\n" + script)
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=timeout, check=True).stdout
    return json.loads(out)


@contextlib.contextmanager
def node_program(args, on_item):
    """A Node program (``node`` and ``args``) that prints one JSON object a line: the
    first with ``port`` (where it listens: yielded), every later one handed to
    ``on_item`` from a reading thread. Skips the test where node is missing; the
    program is killed at the end."""
    if NODE is None:
        import pytest
        pytest.skip("node is not installed")
    proc = subprocess.Popen([NODE, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    ready = threading.Event()
    port = {}

    def read():
        for line in proc.stdout:
            item = json.loads(line)
            if "port" in item:
                port["port"] = item["port"]
                ready.set()
            else:
                on_item(item)
    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(10), "node did not start"
        yield port["port"]
    finally:
        proc.kill()
        proc.wait(5)
        proc.stdin.close()
        proc.stdout.close()


def upload_peak(st, upload):
    """``upload(port, results)`` run by a client thread against the in-process server
    ``st`` (a ServerThread whose listener records ``("end",)`` at the request body's
    end): (the peak of the traced Python heap above where it stood meanwhile, results)."""
    import tracemalloc
    results = {}
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        client = threading.Thread(target=upload, args=(st.port, results), daemon=True)
        client.start()
        client.join(30)
        assert results.get("sent"), "the client could not send the whole body"
        st.wait_for(lambda e: e[0] == "end", timeout=10)
        return tracemalloc.get_traced_memory()[1] - base, results
    finally:
        tracemalloc.stop()


def run_loop(loop, timeout=5.0):
    """Run ``loop`` until it is stopped; fails when that takes longer than ``timeout``."""
    expired = []
    timer = loop.call_later(timeout, lambda: (expired.append(True), loop.stop()))
    loop.run_forever()
    timer.cancel()
    assert not expired, "the scenario did not finish"


def run_with_client(loop, client, server=None):
    """``run_loop(loop)`` while ``client`` runs on a thread of its own; then the thread is
    joined, the server's connections (when given) closed, and the loop closed."""
    thread = threading.Thread(target=client)
    thread.start()
    try:
        run_loop(loop)
    finally:
        thread.join(5)
        if server is not None:
            server.close_all_connections()
        loop.close()


def left_in_cycles(run):
    """The prefork objects (by type) that the cycle collector finds unreachable after
    ``run()``, which runs with automatic collection off; ``run``'s result is kept in
    ``left_in_cycles.result``."""
    import collections
    import gc
    gc.collect()
    gc.disable()
    try:
        left_in_cycles.result = run()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return collections.Counter(type(obj).__qualname__ for obj in gc.garbage
                                   if type(obj).__module__.startswith("prefork."))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
