"""The client's response parser keeps Node's limits on what a server sends.

Rules under test (Node's client): the status text counts against max_header_size with
the header names and values (a reason phrase that takes the count to 16 KiB is
HPE_HEADER_OVERFLOW), a field or status still open at the end of a read counts too,
trailers get a count of their own, and chunk extensions past 16 KiB are
HPE_CHUNK_EXTENSIONS_OVERFLOW. So a hostile server cannot make the client keep an
endless status line, header or trailer: the request gets the error Node's gives, at
Node's offset.
"""

import asyncio
import json
import socket
import subprocess
import threading

import pytest

import prefork
from harness import NODE
from prefork.http.errors import ParseError, replay_available
from prefork.http.parser import ResponseParser
from prefork.runtime import new_event_loop

LIMIT = 16384
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"

needs_replay = pytest.mark.skipif(not replay_available(), reason="llhttp's C API is not usable here")


class Sink:
    def on_headers(self, *head):
        pass

    def on_body(self, body):
        pass

    def on_message_complete(self, trailers):
        pass


def feed(reads):
    parser = ResponseParser(Sink())
    fed = 0
    for read in reads:
        try:
            parser.feed(read)
        except ParseError as err:
            return err.code, fed + err.bytes_parsed
        fed += len(read)
    return None


def status_line(length):
    return b"HTTP/1.1 200 " + b"o" * length + b"\r\nContent-Length: 0\r\n\r\n"


def test_the_status_text_counts_against_the_limit():
    counted = len("Content-Length") + 1
    assert feed([status_line(LIMIT - 1 - counted)]) is None
    assert feed([status_line(LIMIT - counted)])[0] == "HPE_HEADER_OVERFLOW"


@needs_replay
def test_an_open_status_or_value_is_refused_in_the_read_that_reaches_the_limit():
    short = b"HTTP/1.1 200 " + b"o" * (LIMIT - 1)
    assert feed([short]) is None
    assert feed([short + b"o"]) == ("HPE_HEADER_OVERFLOW", len(short) + 1)
    value = b"HTTP/1.1 200 OK\r\nX: " + b"a" * (LIMIT - 4)  # "OK", "X" and the value
    assert feed([value]) is None
    assert feed([value, b"a"]) == ("HPE_HEADER_OVERFLOW", len(value) + 1)


@needs_replay
def test_trailers_and_chunk_extensions_are_bounded():
    trailer = CHUNKED + b"0\r\nT: " + b"a" * (LIMIT - 2)
    assert feed([trailer]) is None
    assert feed([trailer[:100], trailer[100:] + b"a"]) == ("HPE_HEADER_OVERFLOW", len(trailer) + 1)
    extension = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;" + b"e" * 20000 + b"\r\nabc\r\n0\r\n\r\n"
    assert feed([extension])[0] == "HPE_CHUNK_EXTENSIONS_OVERFLOW"
    fine = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;" + b"e" * 1000 + b"\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    assert feed([fine]) is None


NODE_CLIENT = r"""
const http = require('http');
const req = http.get({port: +process.argv[1], host: '127.0.0.1'}, res => {
  res.resume();
  res.on('end', () => { console.log(JSON.stringify(['end'])); process.exit(0); });
});
req.on('error', e => { console.log(JSON.stringify(['error', e.code, e.bytesParsed])); process.exit(0); });
setTimeout(() => { console.log(JSON.stringify(['waiting'])); process.exit(0); }, 1500);
"""


class OneAnswer:
    """A raw server that answers each connection's first read with ``reply``, then
    keeps the connection open (it never ends the answer itself)."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            conn.recv(65536)
            try:
                conn.sendall(self.reply)
            except OSError:
                pass

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


def node_outcome(port):
    out = subprocess.run([NODE, "-e", NODE_CLIENT, str(port)], capture_output=True, text=True, timeout=10)
    return json.loads(out.stdout.splitlines()[0])


def prefork_outcome(port):
    loop = new_event_loop("asyncio")

    async def run():
        done = loop.create_future()

        def settle(outcome):
            if not done.done():
                done.set_result(outcome)
        req = prefork.request(f"http://127.0.0.1:{port}/")
        req.on("error", lambda err: settle(["error", err.code, getattr(err, "bytes_parsed", None)]))

        def on_response(res):
            res.on("end", lambda *_: settle(["end"]))
            res.resume()
        req.on("response", on_response)
        req.end()
        try:
            return await asyncio.wait_for(done, 1.5)
        except asyncio.TimeoutError:
            req.destroy()
            return ["waiting"]
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@needs_replay
@pytest.mark.parametrize("reply", [
    status_line(LIMIT),
    b"HTTP/1.1 200 " + b"o" * 20000,
    b"HTTP/1.1 200 OK\r\nX: " + b"a" * 20000,
    CHUNKED + b"0\r\nT: " + b"a" * 20000,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;" + b"e" * 20000 + b"\r\nabc\r\n0\r\n\r\n",
], ids=["status-at-limit", "endless-status", "endless-value", "endless-trailer", "long-extension"])
def test_the_client_refuses_as_nodes_client_does(reply):
    server = OneAnswer(reply)
    try:
        expected = node_outcome(server.port)
        assert expected[0] == "error"
        assert prefork_outcome(server.port) == expected
    finally:
        server.close()
