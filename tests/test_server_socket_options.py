"""Node 20's ``http.createServer`` options ``noDelay`` (default true), ``keepAlive`` and
``keepAliveInitialDelay`` as ``no_delay``, ``keep_alive`` and
``keep_alive_initial_delay`` (seconds): TCP_NODELAY and TCP keep-alive probes on each
accepted connection. (The three were refused as unknown options.)"""

import os
import socket

import pytest


def options_of(serve, **options):
    """SO_KEEPALIVE, TCP_KEEPIDLE (when keep-alive is on) and TCP_NODELAY of the server's
    end of a connection, read from a copy of its descriptor."""
    def setup(server, st):
        server.on("connection", lambda sock: st.record("fd", os.dup(sock.fileno())))
        server.on("request", lambda req, res: res.end("x"))
    st = serve(setup, **options)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(1000).startswith(b"HTTP/1.1 200 OK")
        fd = st.wait_for(lambda event: event[0] == "fd")[1]
        with socket.socket(fileno=fd) as copy:
            keep_alive = copy.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            idle = copy.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) if keep_alive else None
            return keep_alive, idle, copy.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_defaults_no_delay_on_keep_alive_off(serve):
    assert options_of(serve) == (0, None, 1)


def test_keep_alive_with_its_initial_delay_and_no_delay_off(serve):
    assert options_of(serve, keep_alive=True, keep_alive_initial_delay=7, no_delay=False) == (1, 7, 0)


def test_the_initial_delay_is_checked():
    import prefork
    with pytest.raises(ValueError):
        prefork.create_server(keep_alive_initial_delay=-1)
