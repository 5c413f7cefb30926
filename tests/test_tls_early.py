"""Bytes written on a TLS socket before its handshake ends, when the handshake never
ends: a client that sends half a ClientHello and waits, or one that resets mid-handshake.
The handshake timeout (or the reset) reports the client error once, destroys the socket,
and what was queued goes with it: the socket is freed, no
'finish' (its bytes never went out) and one 'close'. The socket and its TLS layer referred to each other: every TLS
connection (these, and ones served to the end) waited for the cycle collector, with
what it had queued. An in-process server on loopback."""

import gc
import socket
import struct
import weakref

import pytest

from daemon import wait_until
from test_hostile_net_tls import pki, tls_listener  # noqa: F401
from test_tls_alpn import client_hello

EARLY = b"x" * (1024 * 1024)


def early_writer(kept):
    def setup(server, st_):
        def connection(sock):
            kept.append(weakref.ref(sock))
            sock.on("finish", lambda: st_.record("finish"))
            sock.on("close", lambda _=False: st_.record("close"))
            sock.write(EARLY)
            sock.end(b"the end\n")
        server.on("connection", connection)
        server.on("tlsClientError", lambda err, sock: st_.record("tlsClientError", err.code))
    return setup


@pytest.mark.parametrize("how", ["half-a-hello", "nothing", "reset-mid-hello"])
def test_early_writes_of_a_handshake_that_never_ends_go_with_the_socket(serve, pki, how):  # noqa: F811
    kept = []
    gc.disable()  # the socket must be freed by reference counting, not by the cycle collector
    st = serve(early_writer(kept))
    port = tls_listener(st, pki, handshake_timeout=0.5)
    hello = client_hello(["http/1.1"])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if how != "nothing":
            sock.sendall(hello[:len(hello) // 2])
        wait_until(lambda: kept, 5, what="the connection")
        if how == "reset-mid-hello":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            code = "ECONNRESET"
        else:
            code = "ERR_TLS_HANDSHAKE_TIMEOUT"
            sock.settimeout(5)
            assert sock.recv(65536) == b""  # the server's FIN, and none of the early bytes
        st.wait_for(lambda e: e[0] == "close")
        errors = [e for e in st.events if e[0] == "tlsClientError"]
        assert errors == [("tlsClientError", code)], st.events
        assert [e for e in st.events if e[0] in ("finish", "close")] == [("close",)], st.events
        wait_until(lambda: kept[0]() is None, 5, what="the socket freed (reference counting)")
    finally:
        sock.close()
        gc.enable()


def test_a_tls_connection_served_to_its_end_is_freed_without_the_cycle_collector(serve, pki):  # noqa: F811
    from test_hostile_net_tls import client_context, connect
    kept = []

    def setup(server, st_):
        server.on("connection", lambda sock: kept.append(weakref.ref(sock)))
        server.on("request", lambda req, res: res.end(b"hi " + req.socket.get_protocol().encode()))
    gc.disable()
    try:
        st = serve(setup)
        port = tls_listener(st, pki)
        with connect(port, client_context(pki)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK") and b"hi TLSv1.3" in data
        wait_until(lambda: kept and kept[0]() is None, 5, what="the socket freed (reference counting)")
    finally:
        gc.enable()
