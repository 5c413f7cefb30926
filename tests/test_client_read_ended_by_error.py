"""``await res.read()`` of a close-delimited body (no Content-Length, not chunked) that
a socket error ends: ``req.destroy(err)`` mid-body raises ``err``, an upstream reset
mid-body ECONNRESET, though the response's ``end`` comes (Node finishes its parser at
a socket error, and ``async for`` ends as Node's ``for await`` does): the body may be
cut, and ``read()`` raises when the connection ends before the body does.

Real loopback sockets: the upstream is a thread of this process.
"""

import asyncio
import socket
import struct
import threading

import pytest

import prefork
from prefork.http.errors import HTTPError

from test_hostile_client import RawServer, read_head


@pytest.fixture
def upstream():
    """A head, then (once the client reads the body: ``reading``) the body's first piece;
    once the client has it (``got``), a reset when ``reset`` is set, else the connection
    is left open until the client closes it."""
    reading, got = threading.Event(), threading.Event()

    def handler(conn, index):
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        reading.wait(10)
        conn.sendall(b"hello")
        got.wait(10)
        if srv.reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return  # (closed with linger 0: a reset)
        while conn.recv(65536):
            pass
    srv = RawServer(handler)
    srv.reading, srv.got, srv.reset = reading, got, False
    yield srv
    reading.set()
    got.set()
    srv.close()


def read_cut(upstream, destroy_error):
    async def main():
        req = prefork.get({"port": upstream.port, "host": "127.0.0.1", "agent": False})
        errors, ended = [], []
        req.on("error", errors.append)
        res = await req
        res.on("end", lambda: ended.append(True))
        body = res.read()

        def first(chunk):
            upstream.got.set()
            if destroy_error is not None:
                req.destroy(destroy_error)
        res.once("data", first)
        upstream.reading.set()
        try:
            await asyncio.wait_for(body, 5)
        except HTTPError as err:
            return ("raised", err.code), errors, ended
        except Exception as err:
            return ("raised", repr(err)), errors, ended  # (raisable: a copy of it)
        return ("read", body.result()), errors, ended
    return asyncio.run(main())


def test_a_read_cut_by_a_destroy_with_an_error_raises_that_error(upstream):
    boom = Exception("boom")
    result, errors, ended = read_cut(upstream, boom)
    assert result == ("raised", repr(boom)) and errors == [boom]
    assert ended == [True]  # (the response's 'end' still came, as Node's)


def test_a_read_cut_by_an_upstream_reset_raises_econnreset(upstream):
    upstream.reset = True
    result, errors, ended = read_cut(upstream, None)
    assert result == ("raised", "ECONNRESET")
