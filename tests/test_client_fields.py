"""The client request's header API against Node's ``http.request`` (both are Node's
``OutgoingMessage``): ``headers_sent``, ``set_headers``, ``get_raw_header_names``, and
what ``remove_header`` of a framing field does to the head. Each scenario runs in
Node's client and in prefork's against the same raw server; the bytes each server
reads (the port masked) and the API's answers must agree."""

import asyncio
import json
import subprocess
import threading
import time

import pytest

import prefork
from harness import NODE
from test_hostile_client import RawServer

# name: (the steps in JavaScript, the same in Python, the bytes the request ends with)
SCENARIOS = {
    "remove_connection": ("req.removeHeader('connection'); req.end('abc');",
                          lambda req: (req.remove_header("connection"), req.end("abc")), b"abc"),
    "remove_length": ("req.removeHeader('content-length'); req.end('abc');",
                      lambda req: (req.remove_header("Content-Length"), req.end("abc")), b"0\r\n\r\n"),
    "remove_chunked": ("req.removeHeader('transfer-encoding'); req.write('a'); req.end('b');",
                       lambda req: (req.remove_header("transfer-encoding"), req.write("a"), req.end("b")), b"ab"),
    "remove_both": ("req.removeHeader('content-length'); req.removeHeader('transfer-encoding'); req.end('abc');",
                    lambda req: (req.remove_header("content-length"), req.remove_header("transfer-encoding"),
                                 req.end("abc")), b"abc"),
    "remove_length_then_write": ("req.removeHeader('content-length'); req.write('a'); req.end('b');",
                                 lambda req: (req.remove_header("content-length"), req.write("a"), req.end("b")),
                                 b"0\r\n\r\n"),
}

NODE_CLIENT = r"""
const http = require('http');
const req = http.request({host: '127.0.0.1', port: +process.argv[1], agent: false, path: '/', method: 'POST'},
                         (res) => { res.resume(); res.on('end', () => console.log(JSON.stringify(out))); });
const out = {};
STEPS
"""

NODE_API = """
out.before = req.headersSent;
req.setHeaders(new Map([['X-A', '1'], ['x-B', '2'], ['set-cookie', ['a=1', 'b=2']]]));
out.raw = req.getRawHeaderNames();
req.flushHeaders();
out.after = req.headersSent;
try { req.setHeaders(new Map([['X-C', '3']])); } catch (e) { out.late = e.code; }
req.end();
"""


def python_api(req, out):
    out["before"] = req.headers_sent
    req.set_headers({"X-A": "1", "x-B": "2", "set-cookie": ["a=1", "b=2"]})
    out["raw"] = req.get_raw_header_names()
    req.flush_headers()
    out["after"] = req.headers_sent
    try:
        req.set_headers({"X-C": "3"})
    except Exception as exc:  # the code Node's error carries
        out["late"] = getattr(exc, "code", repr(exc))
    req.end()


class Reader:
    """A raw server that reads one request until it ends with ``suffix`` (or 5 s
    pass), keeps the bytes and answers 200 with Connection: close."""

    def __init__(self, suffix):
        self.suffix = suffix
        self.data = None
        self.done = threading.Event()
        self.server = RawServer(self.answer)

    def answer(self, conn, index):
        data = b""
        deadline = time.monotonic() + 5
        while not (b"\r\n\r\n" in data and data.endswith(self.suffix)) and time.monotonic() < deadline:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = conn.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        self.data = data.replace(str(self.server.port).encode(), b"PORT")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.done.set()


def run_prefork(port, steps):
    out = {}

    async def main():
        done = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False, "path": "/", "method": "POST"},
                              lambda res: (res.resume(), res.on("end", lambda: done.set_result(None))))
        steps(req, out)
        await asyncio.wait_for(done, 10)
    asyncio.run(main())
    return out


def both(js, steps, suffix):
    ours, theirs = Reader(suffix), Reader(suffix)
    try:
        mine = run_prefork(ours.server.port, steps)
        assert ours.done.wait(10)
        done = subprocess.run([NODE, "-e", NODE_CLIENT.replace("STEPS", js), "--", str(theirs.server.port)],
                              capture_output=True, timeout=30, text=True)
        assert done.returncode == 0, done.stderr
        assert theirs.done.wait(10)
    finally:
        ours.server.close()
        theirs.server.close()
    return (ours.data, mine), (theirs.data, json.loads(done.stdout))


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_removed_framing_fields_shape_the_head_as_in_node(name):
    js, steps, suffix = SCENARIOS[name]
    (ours, _), (theirs, _) = both(js, lambda req, out: steps(req), suffix)
    assert ours == theirs
    assert ours.endswith(suffix)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_headers_sent_set_headers_and_raw_names_as_in_node():
    (ours, mine), (theirs, node) = both(NODE_API, python_api, b"0\r\n\r\n")
    assert mine == node
    assert mine["raw"] == ["Host", "X-A", "x-B", "set-cookie"] and mine["late"] == "ERR_HTTP_HEADERS_SENT"
    assert ours == theirs


NODE_AUTH = r"""
const http = require('http');
const [port, url, opts] = [+process.argv[1], process.argv[2], process.argv[3]];
const req = url ? http.request(url.replace('PORT', port), {agent: false})
                : http.request({...JSON.parse(opts), port, host: '127.0.0.1', agent: false});
req.on('response', (res) => { res.resume(); res.on('end', () => console.log('{}')); });
req.end();
"""

# a URL with credentials, or the ``auth`` option (with other headers), as Node takes them
AUTH_CASES = [
    ("http://user:pass@127.0.0.1:PORT/", None),
    ("http://us%20er:p%40ss@127.0.0.1:PORT/x?q=1", None),
    ("http://user@127.0.0.1:PORT/", None),
    ("http://:pw@127.0.0.1:PORT/", None),
    ("http://u%C3%A9:x@127.0.0.1:PORT/", None),
    ("", {"auth": "a:b"}),
    ("", {"auth": "a:b", "headers": {"Authorization": "X"}}),
    ("", {"auth": "\u00e9:\u00fc"}),
    ("", {"auth": ""}),
]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("url, options", AUTH_CASES)
def test_credentials_go_out_as_node_sends_them(url, options):
    ours, theirs = Reader(b"\r\n\r\n"), Reader(b"\r\n\r\n")
    try:
        async def main():
            done = asyncio.get_running_loop().create_future()
            if url:
                req = prefork.request(url.replace("PORT", str(ours.server.port)), agent=False)
            else:
                req = prefork.request({**options, "port": ours.server.port, "host": "127.0.0.1", "agent": False})
            req.on("response", lambda res: (res.resume(), res.on("end", lambda: done.set_result(None))))
            req.end()
            await asyncio.wait_for(done, 10)
        asyncio.run(main())
        out = subprocess.run([NODE, "-e", NODE_AUTH, "--", str(theirs.server.port), url, json.dumps(options or {})],
                             capture_output=True, timeout=30, text=True)
        assert out.returncode == 0, out.stderr
        assert ours.done.wait(10) and theirs.done.wait(10)
    finally:
        ours.server.close()
        theirs.server.close()
    assert ours.data == theirs.data
    assert (b"Authorization: " in ours.data) == bool(url or options.get("auth"))


def test_headers_given_as_pairs_or_a_flat_list_are_sent_in_order():
    """Python callers pass header pairs (as to httpx); Node takes its flat raw list. Both
    are taken (they raised AttributeError): each pair is a line, a repeated name too
    (with its own spelling, as Node writes it), and Host is added as for a mapping (Node sends an array's fields alone)."""
    for headers in ([("X-A", "1"), ("x-a", "2"), ("Cookie", "c=1")], ["X-A", "1", "x-a", "2", "Cookie", "c=1"]):
        ours = Reader(b"\r\n\r\n")
        try:
            async def main():
                done = asyncio.get_running_loop().create_future()
                req = prefork.request({"port": ours.server.port, "host": "127.0.0.1", "agent": False,
                                       "headers": headers})
                req.on("response", lambda res: (res.resume(), res.on("end", lambda: done.set_result(None))))
                req.end()
                await asyncio.wait_for(done, 10)
            asyncio.run(main())
            assert ours.done.wait(10)
        finally:
            ours.server.close()
        assert ours.data == (b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nCookie: c=1\r\nHost: 127.0.0.1:PORT\r\n"
                             b"Connection: close\r\n\r\n")
