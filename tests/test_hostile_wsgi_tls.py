"""Over TLS, bytes the socket flushes count as activity, as on a plain socket (a long
TLS download under ``server.timeout`` is not cut as idle)."""

import socket

from daemon import wait_until
from test_tls import client_context, connect, pki  # noqa: F401 (pki is a fixture)


def test_tls_writes_count_as_socket_activity(serve, pki):  # noqa: F811
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context
    seen = {}

    def setup(server, st):
        def on_request(req, res):
            seen["socket"] = req.socket
            seen["read_at"] = req.socket.last_activity
            res.end(b"x" * (8 << 20))  # more than the kernel takes at once: flushed as the client reads
        server.on("request", on_request)
    st = serve(setup)
    listener = socket.create_server(("127.0.0.1", 0))
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key}), 5.0)
    st.call(lambda: st.server.listen(sock=listener, tls=tls))
    with connect(listener.getsockname()[1], client_context(pki)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        total = 0
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            total += len(chunk)
    assert total > 8 << 20
    wait_until(lambda: "socket" in seen, 10)
    assert st.call(lambda: seen["socket"].last_activity) > seen["read_at"]
