"""The server's ``timeout``, ``keep_alive_timeout``, ``headers_timeout`` and
``request_timeout`` are checked when set (timeouts.py) but kept as plain instance
attributes: no class attribute names them, so a read on the request path (two per
request: the keep-alive line of each head, the timer of each connection's idle time)
finds the value in the instance with no data descriptor in the way (CPython 3.11
specialises no read of a name a class descriptor with ``__set__`` holds)."""

import math

import pytest

import prefork

NAMES = ("timeout", "keep_alive_timeout", "headers_timeout", "request_timeout")


def test_the_server_timeouts_are_plain_instance_attributes_still_checked_when_set():
    server = prefork.create_server(keep_alive_timeout=7.0)
    for name in NAMES:
        assert not any(name in vars(klass) for klass in type(server).__mro__), name
        assert name in vars(server), name
    assert server.keep_alive_timeout == 7.0 and server.timeout == 0.0
    server.keep_alive_timeout = -0.5
    assert server.keep_alive_timeout == -0.5
    server.headers_timeout = None
    assert server.headers_timeout is None
    for name, value, kind in (("timeout", -1, ValueError), ("timeout", "x", TypeError),
                              ("keep_alive_timeout", math.inf, ValueError), ("keep_alive_timeout", -2, ValueError),
                              ("request_timeout", "5", TypeError), ("headers_timeout", True, TypeError)):
        before = getattr(server, name)
        with pytest.raises(kind):
            setattr(server, name, value)
        assert getattr(server, name) == before, name
    server.set_timeout(2)
    assert server.timeout == 2.0


@pytest.mark.parametrize("name", NAMES)
def test_a_deleted_server_timeout_is_off_and_the_server_serves_on(name):
    """Node's ``delete server.timeout`` leaves it undefined, which Node's checks take as
    off; a deleted attribute here broke every connection (AttributeError on accept or in
    the head)."""
    import asyncio
    import socket

    async def main():
        loop = asyncio.get_running_loop()
        server = prefork.create_server(lambda req, res: res.end(b"hi"), **{name: 3.0})
        delattr(server, name)
        assert getattr(server, name) == 0
        server.listen(0, "127.0.0.1")
        port = server.address()["port"]

        def get():
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := sock.recv(4096):
                    data += chunk
                return data
        try:
            data = await loop.run_in_executor(None, get)
        finally:
            server.close()
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nhi"), data
    asyncio.run(main())
