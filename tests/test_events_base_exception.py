"""A plain listener that raises a BaseException other than SystemExit/KeyboardInterrupt
(GeneratorExit, or an application's own ``class Abort(BaseException)``, as some
libraries use for control flow) is answered as a raising listener is: a 500 at once.

Were it let through the parser's read callback, asyncio would log "Exception in
callback Socket._on_readable()" and leave the request open with nothing sent: the
client would wait for ``request_timeout`` (300 s by default) and then get a 408, for a
request its application failed. A coroutine listener raising the same exception gets
the 500 as well (its task's failure goes through ``listener_failed``).
"""

import socket
import time

from conftest import ServerThread


class Abort(BaseException):
    """An application's control-flow exception (not an Exception)."""


def _first_bytes(port, request, deadline=2.0):
    """What the server sends within ``deadline`` seconds (b"" when nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=deadline) as c:
        c.sendall(request)
        end = time.monotonic() + deadline
        data = b""
        while time.monotonic() < end and b"\r\n\r\n" not in data:
            c.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = c.recv(4096)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
        return data


def _check(on_request, request):
    st = ServerThread(lambda server, st: server.on("request", on_request))
    try:
        return _first_bytes(st.port, request)
    finally:
        st.stop()


def test_coroutine_listener_base_exception_gets_500():
    # the reference: what prefork already does for the same failure in a task
    def on_request(req, res):
        async def go():
            raise Abort()
        return go()
    data = _check(on_request, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 ")


def test_plain_request_listener_base_exception_gets_500():
    def on_request(req, res):
        raise Abort()
    data = _check(on_request, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 "), data


def test_generator_exit_in_request_listener_gets_500():
    def on_request(req, res):
        raise GeneratorExit()
    data = _check(on_request, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 "), data


def test_plain_data_listener_base_exception_gets_500():
    def on_request(req, res):
        def on_data(chunk):
            raise Abort()
        req.on("data", on_data)
        req.on("end", lambda: res.end("never"))
    data = _check(on_request, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
    assert data.startswith(b"HTTP/1.1 500 "), data
