"""The TLS handshake's deadline and what a connection leaves behind when it ends before
its handshake does: a socket the server or the application destroys in the middle of a
handshake takes its TLS state with it at once, instead of keeping it (an SSLObject, its
buffers, the socket) in the loop until the handshake timeout."""

import gc
import socket

from daemon import wait_until
from test_hostile_net_tls import client_hello, pki, tls_listener  # noqa: F401


def layers_alive(st):
    from prefork.net.tls import TLSLayer

    def count():
        gc.collect()
        return sum(1 for obj in gc.get_objects() if type(obj) is TLSLayer)
    return st.call(count)


def closed_by_server(sock, timeout=20):
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    sock.close()


def test_a_socket_destroyed_mid_handshake_leaves_no_tls_state_behind(serve, pki):  # noqa: F811
    """A 'connection' listener that turns clients away (a block list) destroys each
    socket before its handshake: with a 60 s handshake timeout, 100 such connections
    must not leave 100 TLS layers and timers waiting in the loop."""
    def refuse(server, st):
        server.on("connection", lambda sock: sock.destroy())
    st = serve(refuse)
    port = tls_listener(st, pki, handshake_timeout=60.0)
    hello = client_hello()
    for _ in range(100):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(hello)
        closed_by_server(sock)
    wait_until(lambda: layers_alive(st) == 0, 10, 0.1, "no TLS layer left of the refused connections")


def test_close_all_connections_during_handshakes_leaves_no_tls_state_behind(serve, pki):  # noqa: F811
    """Connections whose handshake is half done (a ClientHello cut short) when the server
    closes them all."""
    def track(server, st):
        server.on("connection", lambda sock: st.record("connection"))
    st = serve(track)
    port = tls_listener(st, pki, handshake_timeout=60.0)
    hello = client_hello()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(20)]
    for sock in socks:
        sock.sendall(hello[:40])
    wait_until(lambda: sum(1 for e in st.events if e == ("connection",)) == len(socks), 10, 0.02, "all accepted")
    st.call(st.server.close_all_connections)
    for sock in socks:
        closed_by_server(sock)
    wait_until(lambda: layers_alive(st) == 0, 10, 0.1, "no TLS layer left of the closed connections")
