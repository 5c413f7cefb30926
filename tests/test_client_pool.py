"""The agent's pool against a server that answers before the request's body is out (an
early 413 on a kept-alive connection): the socket is not free before the body is, so no
other request is written into the middle of it; side by side with Node's client."""

import asyncio
import json
import subprocess
import threading
import time

import pytest

import prefork
from harness import NODE
from test_hostile_client import RawServer


class EarlyServer(RawServer):
    """Answers each request after its head and the first 10 bytes of its body (a
    keep-alive answer naming the connection), then reads the rest of the body before the
    next head. ``log``: (connection, request line or 'body N') as they come."""

    def __init__(self):
        self.log = []
        self.log_lock = threading.Lock()
        super().__init__(self.serve)

    def note(self, entry):
        with self.log_lock:
            self.log.append(entry)

    def settled(self, count, timeout=5):
        """The log once it holds ``count`` entries (the server notes a request's body
        after its answer, so the client may be done first), or as it is at the deadline."""
        deadline = time.monotonic() + timeout
        while len(self.log) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        with self.log_lock:
            return list(self.log)

    def serve(self, conn, index):
        buf = b""

        def fill(predicate):
            nonlocal buf
            while not predicate():
                chunk = conn.recv(65536)
                if not chunk:
                    return False
                buf += chunk
            return True
        while fill(lambda: b"\r\n\r\n" in buf):
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            self.note((index, lines[0].decode()))
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if not fill(lambda: len(buf) >= min(length, 10)):
                return
            body = b"c%d" % index
            status = b"413 Too Large" if length else b"200 OK"
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            if not fill(lambda: len(buf) >= length):
                return
            self.note((index, f"body {length}"))
            buf = buf[length:]


NODE_EARLY = r"""
const http = require('http');
const port = +process.argv[1];
const agent = new http.Agent({keepAlive: true});
const ev = [];
function make(name, opts, after) {
  const req = http.request(Object.assign({host: '127.0.0.1', port, agent}, opts));
  req.on('socket', () => ev.push([name, 'socket', req.reusedSocket]));
  req.on('finish', () => ev.push([name, 'finish']));
  req.on('response', (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => { ev.push([name, 'response', res.statusCode, body]); if (after) after(); });
  });
  req.on('error', (e) => ev.push([name, 'error', e.code]));
  return req;
}
const put = make('put', {method: 'PUT', path: '/put', headers: {'Content-Length': '100'}}, () => setImmediate(() => {
  const get1 = make('get1', {path: '/get1'});
  get1.on('close', () => { ev.push(['get1', 'close']); put.end('y'.repeat(90)); });
  get1.end();
}));
put.on('close', () => { ev.push(['put', 'close']); setImmediate(() => {
  const get2 = make('get2', {path: '/get2'});
  get2.on('close', () => { ev.push(['get2', 'close']); agent.destroy(); console.log(JSON.stringify(ev)); });
  get2.end();
}); });
put.write('x'.repeat(10));
"""


def prefork_early(port):
    """NODE_EARLY's steps with prefork's client."""
    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent()
        events = []
        done = loop.create_future()

        def make(name, options, after=None):
            req = prefork.request(dict({"host": "127.0.0.1", "port": port, "agent": agent}, **options))
            req.on("socket", lambda s: events.append([name, "socket", req.reused_socket]))
            req.on("finish", lambda: events.append([name, "finish"]))

            def on_response(res):
                body = []
                res.on("data", body.append)

                def on_end():
                    events.append([name, "response", res.status_code, b"".join(body).decode()])
                    if after is not None:
                        after()
                res.on("end", on_end)
            req.on("response", on_response)
            req.on("error", lambda e: events.append([name, "error", e.code]))
            return req

        def start_get1():
            get1 = make("get1", {"path": "/get1"})
            get1.on("close", lambda: (events.append(["get1", "close"]), put.end("y" * 90)))
            get1.end()

        def start_get2():
            get2 = make("get2", {"path": "/get2"})
            get2.on("close", lambda: (events.append(["get2", "close"]), done.set_result(None)))
            get2.end()
        put = make("put", {"method": "PUT", "path": "/put", "headers": {"Content-Length": "100"}},
                   lambda: loop.call_soon(start_get1))
        put.on("close", lambda: (events.append(["put", "close"]), loop.call_soon(start_get2)))
        put.write("x" * 10)
        await asyncio.wait_for(done, 10)
        agent.destroy()
        return events
    return asyncio.run(main())


def per_connection(log):
    out = {}
    for index, entry in log:
        out.setdefault(index, []).append(entry)
    return out


@pytest.fixture
def early():
    srv = EarlyServer()
    yield srv
    srv.close()


def test_a_socket_answered_before_its_body_went_is_not_reused_before_it_did(early):
    events = prefork_early(early.port)
    log = per_connection(early.settled(6))
    # the request in between took a connection of its own; the first connection got the
    # whole body of its request and nothing in the middle of it, then served the last
    assert log == {0: ["PUT /put HTTP/1.1", "body 100", "GET /get2 HTTP/1.1", "body 0"],
                   1: ["GET /get1 HTTP/1.1", "body 0"]}
    assert events == [
        ["put", "socket", False], ["put", "response", 413, "c0"],
        ["get1", "socket", False], ["get1", "finish"], ["get1", "response", 200, "c1"], ["get1", "close"],
        ["put", "finish"], ["put", "close"],
        ["get2", "socket", True], ["get2", "finish"], ["get2", "response", 200, "c0"], ["get2", "close"]]
    if NODE is not None:
        node = EarlyServer()
        try:
            out = subprocess.run([NODE, "-e", NODE_EARLY, str(node.port)], capture_output=True, text=True,
                                 timeout=30)
            assert json.loads(out.stdout) == events
        finally:
            node.close()
        assert per_connection(node.settled(6)) == log


NODE_KEPT = r"""
const http = require('http');
const agent = new http.Agent({keepAlive: true});
const ev = [];
const req = http.get({host: '127.0.0.1', port: +process.argv[1], agent});
req.on('response', (res) => {
  res.on('data', () => {});
  res.on('end', () => ev.push('res end'));
  res.on('close', () => { ev.push('res close'); setImmediate(() => { agent.destroy(); console.log(JSON.stringify(ev)); }); });
});
req.on('close', () => ev.push('close'));
"""


def test_a_kept_alive_exchange_closes_in_nodes_order(early):
    """The request's ``close`` (its socket back in the pool), then the response's."""
    async def main():
        agent = prefork.Agent()
        events = []
        done = asyncio.get_running_loop().create_future()
        req = prefork.get({"host": "127.0.0.1", "port": early.port, "agent": agent})

        def on_response(res):
            res.on("data", lambda chunk: None)
            res.on("end", lambda: events.append("res end"))
            res.on("close", lambda: (events.append("res close"), done.set_result(None)))
        req.on("response", on_response)
        req.on("close", lambda: events.append("close"))
        await asyncio.wait_for(done, 10)
        agent.destroy()
        return events
    events = asyncio.run(main())
    assert events == ["res end", "close", "res close"]
    if NODE is not None:
        out = subprocess.run([NODE, "-e", NODE_KEPT, str(early.port)], capture_output=True, text=True, timeout=30)
        assert json.loads(out.stdout) == events
