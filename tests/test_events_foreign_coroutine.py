"""A listener whose coroutine is not CPython's own type (an ``async def`` compiled by
Cython or mypyc, or any ``collections.abc.Coroutine``: ``asyncio.iscoroutine`` says
True for all of them) must run as a task, as the ``async def`` listener it is.

A listener that only checked for CPython's own coroutine type would drop a
Cython-compiled ``async def on_request(req, res)`` ("coroutine ... was never awaited"):
no answer, no 500, and with the request read whole no timer either, so the client
would wait for ever. Cython 3's coroutine type (``_cython_3_3_1.coroutine``) is one
``asyncio.iscoroutine`` accepts and ``inspect.iscoroutine`` does not; the test stands
in for it without a compiler.
"""

import asyncio
import collections.abc
import socket
import time

from conftest import ServerThread


class ForeignCoroutine(collections.abc.Coroutine):
    """A coroutine object of another type than CPython's (what Cython and mypyc make)."""

    def __init__(self, coro):
        self._coro = coro

    def send(self, value):
        return self._coro.send(value)

    def throw(self, *args):
        return self._coro.throw(*args)

    def close(self):
        return self._coro.close()

    def __await__(self):
        return self._coro.__await__()


def _answer(on_request, deadline=2.0):
    st = ServerThread(lambda server, st: server.on("request", on_request))
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=deadline) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                c.settimeout(max(0.01, end - time.monotonic()))
                try:
                    chunk = c.recv(4096)
                except socket.timeout:
                    break
                if not chunk:
                    break
                data += chunk
            return data
    finally:
        st.stop()


def test_foreign_coroutine_listener_runs():
    async def body(req, res):
        await asyncio.sleep(0)
        res.end("ran")

    def on_request(req, res):
        coro = ForeignCoroutine(body(req, res))
        assert asyncio.iscoroutine(coro)
        return coro
    data = _answer(on_request)
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"ran"), data
