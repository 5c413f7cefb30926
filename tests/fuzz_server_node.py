"""Differential fuzz of the two servers on the wire: prefork's event server against Node's.

The twin reference servers (tests/ref_server.js: Node 20's http.Server; tests/ref_server.py:
prefork's, with the same routes, listeners and event lines) each get the same generated
request streams (tests/fuzz_inputs.py ``server_inputs``: heads, bodies, pipelines,
mutations) over real loopback TCP: the same reads with the same short pauses between
them, then a half-close or not as the input says. Each connection is read until the
server closes it or it stays quiet for an idle deadline. Compared, per input:

- the bytes the server wrote (the responses: status lines, header fields in order, bodies),
  with the Date value masked;
- whether the server closed the connection (and so after which response);
- the server's events for that connection (names, codes, request lines, tunnel heads).

An input that differs in a parallel run is run again alone with longer pauses; what
differs only under load (two reads taken as one) is counted as unstable, not a finding.
Differences documented as deliberate (docs/node-compat.md, docs/parser-notes.md, the
spec's deviations) are recognised by ``known_difference``, each with its reason, and
counted apart; so are findings whose fix lies outside the server's code (``pending_fix``,
each naming the change it needs); anything else is a finding.

CI runs a seeded batch (tests/test_fuzz_server_node.py); a long one:

    python tests/test_fuzz_server_node.py --inputs 20000 --seed 1
"""

import asyncio
import json
import os
import re
import shutil
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

sys.path.insert(0, os.path.dirname(HERE))

from fuzz_inputs import server_inputs  # noqa: E402

NODE = shutil.which("node")
DATE = re.compile(rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT")
IGNORED_EVENTS = {"accept", "listening", "sync", "socket.error", "socket.close", "cmd"}
# the fields of an event line that are compared (besides its name); ``t``, ``conn`` and
# ``bytesParsed`` (an offset within one read, which depends on how reads coalesce) are not
EVENT_FIELDS = ("code", "method", "url", "v", "expect", "head")

CONFIGS = {
    # every listener wired (the spec's reference server): clientError answers with the code
    "listened": {},
    # Node's defaults: the canned replies, the automatic 100 and 417
    "defaults": {"unlisten": ["clientError", "checkContinue", "checkExpectation"]},
    # the request cap (dropRequest, 503s), no Host required, short head limits
    # (Node's createServer ignores a maxRequestsPerSocket option: it is set on the server)
    "knobs": {"options": {"requireHostHeader": False, "maxHeaderSize": 300},
              "knobs": {"maxRequestsPerSocket": 2, "maxHeadersCount": 3}},
    # no upgrade or connect listener: an upgrade is a request, a CONNECT is closed
    "tunnels": {"unlisten": ["upgrade", "connect", "clientError"]},
}


# -- the servers ------------------------------------------------------------------------
class Twin:
    """One reference server process, its event lines grouped by connection."""

    def __init__(self, kind, config):
        self.kind = kind
        self.config = config
        self.proc = None
        self.port = None
        self._live = {}  # conn id -> event lines, from its accept until taken
        self._errors = {}  # conn id -> codes of Node's socket 'error' observer (not compared)
        self._ports = {}  # client port -> [conn id] accepted and not yet claimed
        self._syncs_sent = 0
        self._syncs_seen = 0
        self._changed = None
        self.stderr = bytearray()
        self._tasks = []

    async def start(self, timeout=15.0):
        config = json.dumps(self.config)
        if self.kind == "node":
            cmd = [NODE, os.path.join(HERE, "ref_server.js"), "0", config]
        else:
            cmd = [sys.executable, os.path.join(HERE, "ref_server.py"), "0", config]
        self._changed = asyncio.Condition()
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=1 << 22)
        self._tasks = [asyncio.ensure_future(self._read_events()), asyncio.ensure_future(self._read_stderr())]
        await self._wait(lambda: self.port is not None, timeout)

    async def _read_events(self):
        async for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            ev = event.get("ev")
            conn = event.get("conn")
            if ev == "accept":
                self._live[conn] = []
                self._errors[conn] = []
                self._ports.setdefault(event["port"], []).append(conn)
            elif ev == "sync":
                self._syncs_seen += 1
            elif ev == "listening":
                self.port = event["port"]
            elif conn in self._live and ev not in IGNORED_EVENTS:
                self._live[conn].append(normal_event(event))
            elif ev == "socket.error" and conn in self._errors:
                self._errors[conn].append(event.get("code"))
            async with self._changed:
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def _read_stderr(self):
        while True:
            chunk = await self.proc.stderr.read(65536)
            if not chunk:
                return
            if len(self.stderr) < 1 << 20:
                self.stderr += chunk

    async def _wait(self, predicate, timeout):
        async def until():
            async with self._changed:
                while not predicate():
                    if self.proc.returncode is not None or self.proc.stdout.at_eof():
                        raise RuntimeError(f"{self.kind} server exited: {bytes(self.stderr[-2000:])!r}")
                    await self._changed.wait()
        await asyncio.wait_for(until(), timeout)

    async def claim(self, port, timeout=10.0):
        """The connection id of the client socket bound to ``port``, just connected."""
        await self._wait(lambda: self._ports.get(port), timeout)
        ids = self._ports[port]
        conn = ids.pop(0)
        if not ids:
            del self._ports[port]
        return conn

    async def sync(self, timeout=10.0):
        """Returns once the server has logged every event of what it did so far."""
        self._syncs_sent += 1
        wanted = self._syncs_sent
        self.proc.stdin.write(b"sync\n")
        await self._wait(lambda: self._syncs_seen >= wanted, timeout)

    def take(self, conn):
        """The connection's event lines and its socket error codes."""
        return self._live.pop(conn, []), self._errors.pop(conn, [])

    def alive(self):
        return self.proc is not None and self.proc.returncode is None

    async def stop(self):
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                self.proc.stdin.write(b"exit\n")
                self.proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError, RuntimeError):
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def normal_event(event):
    out = [event["ev"]]
    for name in EVENT_FIELDS:
        if event.get(name) is not None:
            out.append((name, event[name]))
    return tuple(out)


# -- one connection ---------------------------------------------------------------------
class Outcome:
    __slots__ = ("data", "closed", "reset", "events", "errors")

    def __init__(self, data, closed, reset, events, errors=()):
        self.data = data
        self.closed = closed
        self.reset = reset
        self.events = events
        self.errors = errors  # Node's socket error codes: for classifying, not compared

    @property
    def masked(self):
        # (the twins' upgrade listener prints a header missing from req.headers (cut by
        # maxHeadersCount) as JavaScript's ``undefined`` and Python's ``None``)
        return DATE.sub(b"Date: <DATE>", self.data).replace(b"\r\nUpgrade: None\r\n", b"\r\nUpgrade: undefined\r\n")

    def key(self):
        return (self.masked, self.closed, self.events)

    def show(self):
        fate = "reset" if self.reset else "closed" if self.closed else "open"
        return f"{self.masked[:700]!r} -> {fate}; events {self.events}"


async def drive(twin, reads, half_close, pause, idle):
    """Sends ``reads`` to ``twin`` on a new connection; what came back."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytearray()
    state = {"closed": False, "reset": False, "last": loop.time()}
    try:
        await loop.sock_connect(sock, ("127.0.0.1", twin.port))
        conn = await twin.claim(sock.getsockname()[1])
        got = asyncio.Event()

        async def reader():
            while True:
                try:
                    chunk = await loop.sock_recv(sock, 65536)
                except ConnectionResetError:
                    state["reset"] = True
                    chunk = b""
                except OSError:
                    chunk = b""
                state["last"] = loop.time()
                got.set()
                if not chunk:
                    state["closed"] = True
                    return
                data.extend(chunk)

        reading = asyncio.ensure_future(reader())
        try:
            for i, piece in enumerate(reads):
                if i:
                    await asyncio.sleep(pause)
                if state["closed"]:
                    break
                try:
                    await loop.sock_sendall(sock, piece)
                except OSError:
                    break
                state["last"] = loop.time()
            if half_close and not state["closed"]:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                state["last"] = loop.time()
            # read until the server closes, or nothing came for ``idle`` seconds
            while not reading.done():
                quiet = state["last"] + idle - loop.time()
                if quiet <= 0:
                    break
                got.clear()
                try:
                    await asyncio.wait_for(got.wait(), quiet)
                except asyncio.TimeoutError:
                    pass
            await twin.sync()
            events, errors = twin.take(conn)
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        return Outcome(bytes(data), state["closed"], state["reset"], tuple(events), errors)
    finally:
        if not state["closed"]:  # a reset: no events of a client's orderly leave to wait for
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


async def drive_both(twins, case, pause, idle):
    reads, _, half_close = case
    node, ours = await asyncio.gather(drive(twins[0], reads, half_close, pause, idle),
                                      drive(twins[1], reads, half_close, pause, idle))
    return node, ours


# -- known differences (tests/fuzz_server_known.py) ---------------------------------------
from fuzz_server_known import known_difference, pending_fix, responses  # noqa: E402,F401


_STATUS_ROUTE = re.compile(rb"[ \t]/status/(\d+)(?=[ \t\r\n?])")


def _throwing_route(data):
    """True when a request line of ``data`` may reach the /status/NNN route with a status
    Node refuses by throwing (outside 100-999)."""
    return any(not 100 <= int(m.group(1)) <= 999 for m in _STATUS_ROUTE.finditer(data))


# -- the campaign -------------------------------------------------------------------------
async def _campaign(seed, count, config, parallel, pause, idle, report):
    twins = (Twin("node", CONFIGS[config]), Twin("prefork", CONFIGS[config]))
    result = {"inputs": 0, "same": 0, "known": {}, "pending": {}, "unstable": 0, "skipped": 0, "findings": [], "config": config}
    try:
        await asyncio.gather(*(t.start() for t in twins))
        cases = server_inputs(seed, count)
        differing = []

        async def worker():
            for case in cases:
                result["inputs"] += 1
                if _throwing_route(case[1]):
                    # node-compat "a listener that raises does not take the process
                    # down": a /status/NNN route (mutated) setting a status outside
                    # 100-999 throws in Node, whose process dies; prefork answers a 500
                    result["skipped"] += 1
                    continue
                node, ours = await drive_both(twins, case, pause, idle)
                if node.key() == ours.key():
                    result["same"] += 1
                else:
                    differing.append(case)
        await asyncio.gather(*(worker() for _ in range(parallel)))
        # each difference again, alone and with longer pauses: a difference that goes away
        # came from two reads taken as one under load
        for case in differing:
            node, ours = await drive_both(twins, case, pause * 10, idle)
            if node.key() == ours.key():
                result["unstable"] += 1
                continue
            name = known_difference(case, node, ours, CONFIGS[config])
            if name is not None:
                result["known"][name] = result["known"].get(name, 0) + 1
                continue
            name = pending_fix(case, node, ours)
            if name is not None:
                result["pending"][name] = result["pending"].get(name, 0) + 1
                continue
            result["findings"].append((case, node, ours))
            if report is not None:
                report(case, node, ours)
        for twin in twins:
            if not twin.alive():
                result["findings"].append((None, f"the {twin.kind} server died: {bytes(twin.stderr[-2000:])!r}", None))
                if report is not None:
                    report(*result["findings"][-1])
        errors = [line for line in bytes(twins[1].stderr).decode("latin-1").splitlines()
                  if "Traceback" in line or "internal error" in line]
        result["server_errors"] = errors
    finally:
        await asyncio.gather(*(t.stop() for t in twins))
    return result


def run(seed, count, config="listened", parallel=12, pause=0.004, idle=0.25, report=None):
    """Runs ``count`` inputs of ``seed`` against both servers with ``config`` (a key of
    CONFIGS); a summary dict: inputs, same, known {name: count}, pending {name: count}
    (``pending_fix``), unstable, skipped (inputs not sent: ``_throwing_route``), findings
    [(case, node outcome, our outcome)], server_errors (prefork's stderr lines)."""
    return asyncio.run(_campaign(seed, count, config, parallel, pause, idle, report))


def print_finding(case, node, ours, out=print):
    if case is None:
        out(f"FINDING: {node}")
        return
    reads, _, half_close = case
    out(f"FINDING reads={reads!r} half_close={half_close}\n  node: {node.show()}\n  ours: {ours.show()}")
