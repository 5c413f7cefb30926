"""A response body broken by the server (a reset, a chunk that does not parse): the
request's ``error`` tells the cause, then the response is aborted, in Node's order; a
body merely cut by the server's FIN gives no request ``error`` (as Node)."""

import asyncio
import json
import socket
import struct
import subprocess

import pytest

import prefork
from harness import NODE
from test_hostile_client import RawServer, read_head
from prefork.http.errors import HTTPError

HEAD_CL = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
HEAD_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
# the reply, then (once the client has read it): a reset, a FIN, or more bytes
CASES = {
    "reset in a Content-Length body": (HEAD_CL + b"hel", "reset", "ECONNRESET"),
    "reset in a chunked body": (HEAD_CHUNKED + b"3\r\nhel\r\n", "reset", "ECONNRESET"),
    "a chunk size that is not hex": (HEAD_CHUNKED + b"3\r\nhel\r\n", b"zz\r\n", "HPE_INVALID_CHUNK_SIZE"),
    "chunk data longer than its size": (HEAD_CHUNKED + b"3\r\nhel", b"X\r\n", "HPE_STRICT"),
    "a FIN in a Content-Length body": (HEAD_CL + b"hel", "fin", None),
}


def handler_for(reply, then):
    """The reply, then ``then`` once the client has read it (it says so with a byte on
    the connection: a reset sent before would drop the unread reply, and bytes sent at
    once could come in the same read)."""
    def handler(conn, index):
        read_head(conn)
        conn.sendall(reply)
        conn.recv(1)
        if then == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif then == "fin":
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        else:
            conn.sendall(then)
            while conn.recv(65536):
                pass
    return handler


NODE_EVENTS = r"""
const http = require('http');
const ev = []; const log = (...e) => ev.push(e);
const req = http.request({port: +process.argv[1], agent: false});
req.on('error', (e) => log('error', e.code));
req.on('response', (res) => {
  log('response');
  res.on('data', (d) => { log('data', d.toString()); req.socket.write('!'); });
  res.on('end', () => log('res.end')); res.on('aborted', () => log('res.aborted'));
  res.on('error', (e) => log('res.error', e.code, e.message)); res.on('close', () => log('res.close', res.complete));
});
req.on('close', () => { log('close'); setTimeout(() => { console.log(JSON.stringify(ev)); process.exit(0); }, 100); });
req.end();
"""


def prefork_events(port):
    async def main():
        events = []
        closed = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})
        req.on("error", lambda e: events.append(["error", e.code]))

        def on_response(res):
            events.append(["response"])

            def on_data(chunk):
                events.append(["data", chunk.decode()])
                req.socket.write(b"!")  # the server goes on at this byte
            res.on("data", on_data)
            res.on("end", lambda: events.append(["res.end"]))
            res.on("aborted", lambda: events.append(["res.aborted"]))
            res.on("error", lambda e: events.append(["res.error", e.code, e.message]))
            res.on("close", lambda: (events.append(["res.close", res.complete]),
                                     closed.done() or closed.set_result(None)))
        req.on("response", on_response)
        req.on("close", lambda: events.append(["close"]))
        req.end()
        await asyncio.wait_for(closed, 10)
        await asyncio.sleep(0)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("name", list(CASES))
def test_a_broken_body_gives_the_requests_error_as_with_node(name):
    reply, then, code = CASES[name]
    srv = RawServer(handler_for(reply, then))
    try:
        ours = prefork_events(srv.port)
    finally:
        srv.close()
    error = [] if code is None else [["error", code]]
    assert ours == [["response"], ["data", "hel"]] + error + [
        ["res.aborted"], ["close"], ["res.error", "ECONNRESET", "aborted"], ["res.close", False]]
    if NODE is not None:
        srv = RawServer(handler_for(reply, then))
        try:
            out = subprocess.run([NODE, "-e", NODE_EVENTS, str(srv.port)], capture_output=True, text=True,
                                 timeout=30)
        finally:
            srv.close()
        assert json.loads(out.stdout) == ours


@pytest.mark.parametrize("listened", [True, False], ids=["error listened", "error not listened"])
def test_reading_a_body_broken_by_a_bad_chunk_raises_the_parse_error(listened, caplog):
    srv = RawServer(lambda conn, index: (read_head(conn), conn.sendall(HEAD_CHUNKED + b"3\r\nhel\r\nzz\r\n"),
                                         conn.recv(1)))
    try:
        async def main():
            req = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": False})
            errors = []
            if listened:
                req.on("error", errors.append)
            closed = asyncio.get_running_loop().create_future()
            req.on("close", lambda: closed.done() or closed.set_result(None))
            res = await asyncio.wait_for(req, 10)
            with pytest.raises(HTTPError) as raised:
                await asyncio.wait_for(res.read(), 10)
            await asyncio.wait_for(closed, 10)
            await asyncio.sleep(0)
            return [e.code for e in errors], raised.value.code
        errors, code = asyncio.run(main())
    finally:
        srv.close()
    assert code == "HPE_INVALID_CHUNK_SIZE"
    assert errors == (["HPE_INVALID_CHUNK_SIZE"] if listened else [])
    assert "unhandled 'error'" not in caplog.text  # the awaited read reports it
