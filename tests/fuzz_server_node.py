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
from prefork.http.errors import ParseError  # noqa: E402
from prefork.http.parser import RequestParser  # noqa: E402

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


# -- known differences ------------------------------------------------------------------
_CONNECTION_TAB = re.compile(rb"(?im)^connection:[^\r\n]*\t")
_EMPTY_TE = re.compile(rb"(?im)^transfer-encoding:[ \t]*\r?$")
_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ")


def _codes(outcome):
    """Parse error codes: clientError's, and Node's socket error observer's."""
    return [e[1][1] for e in outcome.events if e[0] == "clientError" and len(e) > 1 and e[1][0] == "code"] + \
        list(outcome.errors)


def _bytes_after_last_request(data):
    """True when prefork's parser, fed the whole stream, finds bytes after a request
    that forbids reuse."""
    parser = RequestParser(_Discard(), 16384)
    try:
        while True:
            offset = parser.feed(data)
            if offset is None:
                return False
            data = data[offset:]  # an upgrade: what follows is parsed anew
            parser = RequestParser(_Discard(), 16384)
    except ParseError as err:
        return err.code == "HPE_CLOSED_CONNECTION"


class _Discard:
    def on_message_begin(self):
        pass

    def on_headers(self, *head):
        pass

    def on_body(self, body):
        pass

    def on_message_complete(self, trailers):
        pass


def _names(outcome):
    return [e[0] for e in outcome.events]


_RESPONSE_START = re.compile(rb"(?=HTTP/1\.1 \d{3} )")
_ERROR_REPLY = re.compile(rb"HTTP/1\.1 (400|408|413|431) [^\r\n]*\r\n(X-Client-Error: [^\r\n]*\r\n)?")


def responses(outcome):
    """The server's bytes cut where status lines start (the routes' bodies hold none)."""
    return [r for r in _RESPONSE_START.split(outcome.masked) if r]


def _is_error_reply(response):
    """The canned reply to a parse error, or the reference clientError listener's."""
    return bool(_ERROR_REPLY.match(response)) and b"Date: " not in response


def _closes(response):
    """The response ends the connection: it says so, or its body is close-delimited."""
    head = response.split(b"\r\n\r\n", 1)[0].lower()
    if b"\r\nconnection: close" in head:
        return True
    status = int(head[9:12])
    return not (status < 200 or status in (204, 304) or b"\r\ncontent-length:" in head or
                b"\r\ntransfer-encoding:" in head)


def _leads(theirs, mine):
    """``theirs`` are ``mine``'s first responses, the last of them perhaps cut short."""
    if len(theirs) > len(mine):
        return False
    if not theirs:
        return True
    return theirs[:-1] == mine[:len(theirs) - 1] and mine[len(theirs) - 1].startswith(theirs[-1])


def _without_finish(outcome):
    return [e for e in outcome.events if e[0] != "res.finish"]


_UPGRADE = re.compile(rb"(?im)^upgrade:")
_CONNECTION_UPGRADE = re.compile(rb"(?im)^connection:[^\r\n]*upgrade")


_TUNNEL_REPLY = re.compile(rb"HTTP/1\.1 (?:200 Connection Established|101 Switching Protocols)\r\n")


def _tunnel_inside(theirs, mine):
    """Node's bytes are prefork's with one tunnel (its reply and what followed, up to
    where prefork's bytes go on) cut in somewhere: Node handed the connection over
    mid-response, prefork did not."""
    for found in _TUNNEL_REPLY.finditer(theirs):
        start = found.start()
        rest = len(mine) - start
        if 0 <= rest <= len(theirs) - start and theirs[:start] == mine[:start] and \
                theirs[len(theirs) - rest:] == mine[start:]:
            return True
    return False


def known_difference(case, node, ours, config=None):
    """The name of a documented difference that explains why ``ours`` is not ``node``'s
    outcome for ``case`` (run with the reference server ``config``), or None (a finding)."""
    reads, data, half_close = case
    if _CONNECTION_TAB.search(data):
        # parser-notes "Tabs after Content-Length and Connection values": Node ignores a
        # Connection token followed by a tab (close<TAB>, upgrade<TAB>); llhttp reads it
        return "connection-token-then-tab"
    if _EMPTY_TE.search(data) and "HPE_INVALID_TRANSFER_ENCODING" in _codes(ours) + [
            b.decode() for b in re.findall(rb"X-Client-Error: (\S+)", ours.data)]:
        # parser-notes "Empty Transfer-Encoding": refused by prefork, accepted by Node
        return "empty-transfer-encoding"
    theirs, mine = responses(node), responses(ours)
    if ours.closed and ("HPE_CLOSED_CONNECTION" in _codes(node) or _bytes_after_last_request(data)):
        answered = theirs[:-1] if theirs and _is_error_reply(theirs[-1]) else theirs
        if _leads(answered, mine) and not any(_is_error_reply(r) for r in mine[len(answered):]):
            # node-compat deviation 1: bytes after a request that forbids reuse; Node
            # answers them with a 400, which may replace responses not yet written or
            # cut one being written; prefork sends the responses and drops the bytes
            return "bytes-after-connection-close"
    if "upgrade" in (config or {}).get("unlisten", ()) and _UPGRADE.search(data) and \
            _CONNECTION_UPGRADE.search(data) and \
            (_leads(theirs, mine) or _leads(mine, theirs) or
             mine and _is_error_reply(mine[-1]) and _leads(mine[:-1], theirs)):
        # node-compat deviation 2: with no upgrade listener, Node drops what follows an
        # upgrade request's head in the same read; prefork parses on (more responses, or
        # an error that ends the connection early)
        return "unlistened-upgrade-parses-on"
    if half_close and ours.closed and ours.masked.startswith(node.masked) and \
            _without_finish(ours)[:len(_without_finish(node))] == _without_finish(node):
        # node-compat deviation 3: after the client's FIN prefork still sends the
        # responses pending; Node ends the socket at once and they are lost
        return "responses-after-client-fin"
    names = _names(node)
    if ("connect" in names or "upgrade" in names) and sorted(node.events) == sorted(ours.events) and \
            sorted(node.masked) == sorted(ours.masked) and node.closed == ours.closed:
        # node-compat deviation 6: a CONNECT or listened upgrade behind a response still
        # pending is handed over once that response is out; Node emits it at once and
        # its tunnel's bytes come before that response (same events and bytes, in
        # another order)
        return "response-before-hand-over"
    if ("connect" in names or "upgrade" in names) and "connect" not in _names(ours) and \
            "upgrade" not in _names(ours) and ours.closed and mine and _closes(mine[-1]) and \
            (all(r in node.masked for r in mine) or _tunnel_inside(node.masked, ours.masked)):
        # node-compat deviation 6: a response that closes the connection means no
        # hand-over to a CONNECT or upgrade pipelined behind it; Node hands over at once
        # (its tunnel's bytes may then land inside that response, after a flushed head)
        return "no-hand-over-after-closing-response"
    answered = theirs[:-1] if theirs and _is_error_reply(theirs[-1]) else theirs
    if node.closed and ours.closed and len(mine) > len(answered) and _leads(answered, mine) and \
            not any(_is_error_reply(r) for r in mine[len(answered):]) and \
            _without_finish(node) == _without_finish(ours):
        # node-compat deviation 7: a request answered on its 'end' is answered before a
        # malformed request that follows in the same read; Node emits that 'end' on the
        # next tick, after its clientError reply (or its destroy, when a response
        # before it is on the socket) closed the connection
        return "end-before-error-in-same-read"
    if ours.closed and mine and _closes(mine[-1]) and \
            _without_finish(node)[:len(_without_finish(ours))] == _without_finish(ours) and \
            (node.masked.startswith(ours.masked) or
             theirs and _is_error_reply(theirs[-1]) and mine[:len(theirs) - 1] == theirs[:-1] or
             ours.masked.startswith(node.masked) and
             "clientError" in _names(node)[len(_without_finish(ours)):]):
        # node-compat deviation 5: nothing is read or written after a response that
        # closes the connection; Node parses on (more events, more bytes), and when what
        # follows is malformed, its error reply can replace a response whose 'end' it
        # emits on the next tick (deviation 7), or its clientError listener's destroy
        # cuts a response still being sent
        return "nothing-after-final-response"
    return None


def pending_fix(case, node, ours):
    """The name of a finding whose fix lies outside the server's code (reported, with the
    change it needs, until that fix is in), or None."""
    # (none now: a response written whole before a clientError listener's destroy
    # finishes, tests/test_finish_before_destroy.py)
    return None


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
