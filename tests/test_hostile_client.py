"""The http client against misbehaving servers: raw sockets written here, and the same
scenario with Node's client where Node's events are the contract (spec section 7)."""

import asyncio
import json
import os
import socket
import struct
import subprocess
import threading

import pytest

import prefork
from prefork.http.errors import HTTPError
from daemon import wait_until
from harness import NODE
from test_client import ScriptedServer, _normalise, run_node, run_prefork


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.close()


def own_fds():
    return len(os.listdir("/proc/self/fd"))


# -- malformed or cut-short responses, differential with Node -----------------------------------------------
SCENARIOS = {
    "status code of four digits": [("head",), ("send", b"HTTP/1.1 2000 OK\r\n\r\n"), ("hold", 0.3)],
    "status code with letters": [("head",), ("send", b"HTTP/1.1 2x0 OK\r\n\r\n"), ("hold", 0.3)],
    "not HTTP": [("head",), ("send", b"FOO/1.1 200 OK\r\n\r\n"), ("hold", 0.3)],
    "status line without a reason": [("head",), ("send", b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok")],
    "Content-Length longer than the body": [
        ("head",), ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel"), ("close",)],
    "chunked cut mid-chunk": [
        ("head",), ("send", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"), ("close",)],
    "chunked cut before the last chunk": [
        ("head",), ("send", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n"), ("close",)],
    "a huge header": [
        ("head",), ("send", b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20000 + b"\r\nContent-Length: 0\r\n\r\n"),
        ("hold", 0.3)],
    "many headers": [
        ("head",), ("send", b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(3000))
                    + b"Content-Length: 0\r\n\r\n"), ("hold", 0.3)],
    "1xx then a cut": [("head",), ("send", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"), ("close",)],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_bad_response_gives_nodes_events(name, server):
    script = SCENARIOS[name]
    sc = {"port": server.port}
    server.serve(script)
    ours = run_prefork(sc)
    server.wait()
    names = [e[0] for e in ours]
    assert names[0] == "socket" and names.count("close") == 1
    if "cut" in name or "longer" in name:
        assert "res.end" not in names  # a body cut short never ends as if whole
    if NODE is not None:
        server.serve(script)
        theirs = run_node(sc)
        server.wait()
        assert _normalise(ours) == _normalise(json.loads(json.dumps(theirs)))


# -- a body cut short: the response's own events and read() -------------------------------------------------
NODE_ABORT = r"""
const http = require('http');
const ev = []; const log = (...e) => ev.push(e);
const req = http.request({port: +process.argv[2], agent: false});
req.on('error', (e) => log('error', e.code));
req.on('response', (res) => {
  log('response'); res.on('data', (d) => log('data', d.toString()));
  res.on('end', () => log('res.end')); res.on('aborted', () => log('res.aborted'));
  res.on('error', (e) => log('res.error', e.code, e.message)); res.on('close', () => log('res.close', res.complete));
});
req.on('close', () => { log('close'); setTimeout(() => { console.log(JSON.stringify(ev)); process.exit(0); }, 100); });
req.end();
"""


def node_abort_events(server, script, tmp_path):
    """What Node's client sees of ``script`` played by ``server`` (NODE_ABORT's events)."""
    path = tmp_path / "abort.js"
    path.write_text(NODE_ABORT)
    server.serve(script)
    out = subprocess.run([NODE, str(path), str(server.port)], capture_output=True, text=True, timeout=30)
    server.wait()
    return json.loads(out.stdout)


def prefork_abort_events(port):
    loop = asyncio.new_event_loop()
    events = []
    req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False}, loop=loop)
    req.on("error", lambda e: events.append(["error", e.code]))

    def on_response(res):
        events.append(["response"])
        res.on("data", lambda d: events.append(["data", d.decode()]))
        res.on("end", lambda: events.append(["res.end"]))
        res.on("aborted", lambda: events.append(["res.aborted"]))
        res.on("error", lambda e: events.append(["res.error", e.code, e.message]))
        res.on("close", lambda: events.append(["res.close", res.complete]))
    req.on("response", on_response)
    req.on("close", lambda: (events.append(["close"]), loop.call_later(0.05, loop.stop)))
    req.end()
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    loop.close()
    return events


@pytest.mark.parametrize("reply", [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel",
                                   b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                                   b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhel"],
                         ids=["content-length", "chunked", "gzip, chunked"])
def test_a_body_cut_short_is_aborted_in_nodes_order(server, tmp_path, reply):
    script = [("head",), ("send", reply), ("close",)]
    server.serve(script)
    ours = prefork_abort_events(server.port)
    server.wait()
    assert ours == [["response"], ["data", "hel"], ["res.aborted"], ["close"],
                    ["res.error", "ECONNRESET", "aborted"], ["res.close", False]]
    if NODE is not None:
        assert node_abort_events(server, script, tmp_path) == ours


CLOSE_DELIMITED = {
    "connection close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\n\r\nabc",
    "transfer-encoding gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    "not quite chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\nabc",
    # chunked, but not the last coding: close-delimited (RFC 9112 6.3, llhttp)
    "chunked, gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc",
    "chunked , gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked , gzip\r\n\r\nabc",
    "chunked field then gzip field": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    # chunked last: chunks, ended by the last one
    "gzip, chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED \r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "gzip field then chunked field": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     b"3\r\nabc\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("reply", list(CLOSE_DELIMITED.values()), ids=list(CLOSE_DELIMITED))
def test_a_close_delimited_body_ends_at_the_fin_as_with_node(server, tmp_path, reply):
    """The body's bytes, then ``end`` at the FIN (or at the last chunk when chunked is
    the last coding): no empty ``data`` chunk before it."""
    script = [("head",), ("send", reply), ("hold", 0.2), ("close",)]
    server.serve(script)
    ours = prefork_abort_events(server.port)
    server.wait()
    assert ours == [["response"], ["data", "abc"], ["res.end"], ["res.close", True], ["close"]]
    if NODE is not None:
        assert node_abort_events(server, script, tmp_path) == ours


def test_reading_a_body_cut_short_raises(server):
    server.serve([("head",), ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel"), ("close",)])

    async def fetch():
        req = prefork.get({"host": "127.0.0.1", "port": server.port, "agent": False})
        res = await req
        with pytest.raises(HTTPError) as err:
            await res.read()
        return err.value.code
    assert asyncio.run(fetch()) == "ECONNRESET"
    server.wait()


# -- raw servers for the keep-alive pool ----------------------------------------------------------------------
class RawServer:
    """Accepts connections; ``handler(conn, index)`` serves each on its own thread."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.accepted = 0
        self.threads = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                index = self.accepted
                self.accepted += 1
            conn.settimeout(10)
            thread = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            thread.start()
            self.threads.append(thread)  # (started first: close() may join it at once)

    def _serve(self, conn, index):
        try:
            self.handler(conn, index)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()
        for thread in self.threads:
            thread.join(10)


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


@pytest.fixture
def raw():
    servers = []

    def start(handler):
        srv = RawServer(handler)
        servers.append(srv)
        return srv
    yield start
    for srv in servers:
        srv.close()


def fetch_all(port, methods, agent, between=None):
    """Requests one after another on ``agent``: [(status, body, reused) or (error code,)]."""
    async def main():
        results = []
        for i, method in enumerate(methods):
            if between is not None and i:
                await between(i)
            req = prefork.request({"host": "127.0.0.1", "port": port, "method": method, "agent": agent})
            req.end()
            try:
                res = await asyncio.wait_for(req.response(), 10)
                body = await asyncio.wait_for(res.read(), 10)
                results.append((res.status_code, body, req.reused_socket))
            except HTTPError as err:
                results.append((err.code,))
            await asyncio.sleep(0)
        if agent:
            agent.destroy()  # on the loop, before it closes
        return results
    return asyncio.run(main())


def test_a_connection_close_response_is_never_reused(raw):
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n%02d" % index)
            # stays open: only the header says the connection is done
    srv = raw(handler)
    agent = prefork.Agent()
    assert fetch_all(srv.port, ["GET", "GET"], agent) == [(200, b"00", False), (200, b"01", False)]
    assert srv.accepted == 2


@pytest.mark.parametrize("how", ["fin", "reset", "stray bytes"])
def test_a_pooled_socket_the_server_drops_is_not_used_again(raw, how):
    dropped = threading.Event()

    def handler(conn, index):
        assert read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n%02d" % index)
        if index == 0:
            if how == "stray bytes":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nXX")  # answers nothing asked
            elif how == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            dropped.set()
            return
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n%02d" % index)
    srv = raw(handler)
    agent = prefork.Agent()

    async def after_drop(i):
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, dropped.wait, 10)
        key = f"127.0.0.1:{srv.port}"
        for _ in range(500):  # the pool notices the drop on its own (bounded wait)
            if not agent.free_sockets.get(key):
                break
            await asyncio.sleep(0.01)
        assert not agent.free_sockets.get(key)
    assert fetch_all(srv.port, ["GET", "GET"], agent, after_drop) == [(200, b"00", False), (200, b"01", False)]


def test_a_head_response_with_a_body_does_not_poison_the_next_request(raw):
    def handler(conn, index):
        while True:
            head = read_head(conn)
            if not head:
                return
            body = b"%02d" % index
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + body)  # a body even for HEAD
    srv = raw(handler)
    agent = prefork.Agent()
    results = fetch_all(srv.port, ["HEAD", "GET"], agent)
    assert results == [(200, b"", False), (200, b"01", False)]  # a new connection, its own answer


def test_a_server_reset_mid_body_aborts_without_hanging(raw):
    def handler(conn, index):
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    srv = raw(handler)
    assert fetch_all(srv.port, ["GET"], False) == [("ECONNRESET",)]


def test_a_response_before_the_body_is_sent_is_delivered(raw):
    def handler(conn, index):
        read_head(conn)
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbig!")
        conn.shutdown(socket.SHUT_WR)  # then a lingering close: what the client still sends is read and dropped
        while conn.recv(1 << 20):
            pass
    srv = raw(handler)
    events = []

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": srv.port, "method": "PUT", "agent": False})
        req.on("error", lambda e: events.append(("error", e.code)))
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.done() or closed.set_result(True))
        req.write(b"x" * 65536)
        req.end(b"y" * (4 << 20))  # far more than the kernel buffers take
        res = await asyncio.wait_for(req.response(), 10)
        body = await asyncio.wait_for(res.read(), 10)
        await asyncio.wait_for(closed, 10)
        return res.status_code, body
    fds = own_fds()
    assert asyncio.run(main()) == (413, b"big!")
    assert events == []  # a response began: its request has no error
    wait_until(lambda: own_fds() <= fds, 10, what="the sockets closed (the server's side is in this process)")


def test_a_reused_socket_reset_as_the_request_arrives_gives_an_error(raw):
    def handler(conn, index):
        assert read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        if read_head(conn):  # the second request on the kept-alive connection: reset, no answer
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    srv = raw(handler)
    agent = prefork.Agent()
    fds = own_fds()
    results = fetch_all(srv.port, ["GET", "GET"], agent)
    assert results == [(200, b"ok", False), ("ECONNRESET",)]  # an error, never a hang
    wait_until(lambda: own_fds() <= fds, 10, what="the sockets closed (the server's side is in this process)")


def test_a_request_destroyed_while_waiting_for_a_socket_is_never_sent(raw):
    heads = []

    def handler(conn, index):
        while True:
            head = read_head(conn)
            if not head:
                return
            heads.append(head.split(b"\r\n", 1)[0])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    srv = raw(handler)
    agent = prefork.Agent(max_sockets=1)
    events = []

    async def main():
        first = prefork.request({"host": "127.0.0.1", "port": srv.port, "path": "/first", "agent": agent})
        first.end()
        second = prefork.request({"host": "127.0.0.1", "port": srv.port, "path": "/second", "agent": agent})
        second.on("error", lambda e: events.append(("error", e.code)))
        second.on("close", lambda: events.append(("close",)))
        second.end()
        await asyncio.sleep(0)  # both are in the agent now: the second waits in line
        second.destroy()
        res = await asyncio.wait_for(first.response(), 10)
        await asyncio.wait_for(res.read(), 10)
        third = prefork.request({"host": "127.0.0.1", "port": srv.port, "path": "/third", "agent": agent})
        third.end()
        res = await asyncio.wait_for(third.response(), 10)
        body = await asyncio.wait_for(res.read(), 10)
        agent.destroy()
        return body
    assert asyncio.run(main()) == b"ok"
    assert heads == [b"GET /first HTTP/1.1", b"GET /third HTTP/1.1"]
    assert events == [("error", "ECONNRESET"), ("close",)]
