"""A socket's coroutine listener that raises fails as a plain one of the same event does
(net/socket.py, net/writing.py, net/idle.py): for ``data``, ``drain`` and ``timeout``,
after which nothing else would end the socket, it is logged and the socket destroyed. It
was only logged, and an upgraded or tunnelled socket stayed open for ever, its peer
waiting for an answer. The same for the server's ``connection`` and ``secureConnection``
(server/server.py): a plain one that raises gets its socket destroyed; a coroutine's
failure left the connection served."""

import asyncio
import socket

import pytest

from hostile import read_to_close
import test_hostile_net_tls
from test_hostile_net_tls import client_context, connect, tls_listener

pki = test_hostile_net_tls.pki  # (the fixture)

UPGRADE = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
SWITCHED = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"


def upgraded(st, listen):
    """An upgrade whose socket ``listen(sock)`` is given listeners (the 101 written)."""
    def on_upgrade(req, sock, head):
        sock.write(SWITCHED)
        listen(sock)
        st.record("upgraded")
    st.server.on("upgrade", on_upgrade)


@pytest.mark.parametrize("event", ["data", "timeout"])
def test_a_raising_coroutine_listener_of_an_upgraded_socket_closes_it(serve, event):
    def setup(server, st):
        async def failing(*args):
            await asyncio.sleep(0.01)
            raise RuntimeError(f"the app's {event} listener")

        def listen(sock):
            if event == "timeout":
                sock.set_timeout(0.1)
            sock.on(event, failing)
        st.server = server
        upgraded(st, listen)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(UPGRADE)
        st.wait_for(lambda e: e == ("upgraded",))
        sock.sendall(b"a frame")
        assert read_to_close(sock, 3) == SWITCHED  # (the close came: it was left open, recv timed out)


def test_a_raising_coroutine_drain_listener_closes_the_socket(serve):
    def setup(server, st):
        async def failing():
            raise RuntimeError("the app's drain listener")

        def listen(sock):
            sock.on("drain", failing)
            while sock.write(b"x" * 65536):
                pass
        st.server = server
        upgraded(st, listen)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(UPGRADE)
        st.wait_for(lambda e: e == ("upgraded",))
        assert read_to_close(sock, 3).startswith(SWITCHED)


def test_a_raising_coroutine_connection_listener_closes_its_connection(serve):
    """As a raising plain 'connection' listener's does (an access check that failed
    must not leave the connection served)."""
    def setup(server, st):
        async def failing(sock):
            await asyncio.sleep(0.01)
            raise RuntimeError("the app's connection listener")
        server.on("connection", failing)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        assert read_to_close(sock, 3) == b""


def test_a_raising_coroutine_secure_connection_listener_closes_its_connection(serve, pki):
    def setup(server, st):
        async def failing(sock):
            await asyncio.sleep(0.01)
            raise RuntimeError("the app's secureConnection listener")
        server.on("secureConnection", failing)
    st = serve(setup)
    port = tls_listener(st, pki)
    with connect(port, client_context(pki)) as sock:
        sock.settimeout(3)
        assert sock.recv(100) == b""  # (the close came: it was left open, recv timed out)
