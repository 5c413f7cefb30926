"""net.Socket's own rules under load it cannot take at once, in process on a real loop
with real loopback sockets."""

import socket

import pytest

from test_hostile_net_tls import client_context, connect, pki, tls_listener  # noqa: F401  (pki: a fixture)

MB = 1024 * 1024


def tail_on_drain(server, st):
    """Writes until ``write`` says wait, then, on ``drain``, the rest in one write far
    larger than the kernel takes at once, and ends: the end comes while the socket's
    queue is full, from inside the flush that emitted ``drain``."""
    total = 24 * MB

    def on_request(req, res):
        res.set_header("Content-Length", str(total))
        written = 0
        while res.write(b"x" * 65536):
            written += 65536
        written += 65536

        def rest():
            res.write(b"y" * (total - written))
            res.end()
            st.record("ended", total - written)
        res.once("drain", rest)
    server.on("request", on_request)


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_an_end_queued_from_a_drain_listener_waits_for_the_queue(serve, pki, secure):  # noqa: F811
    """``end()`` called from a ``drain`` listener with bytes still queued: the FIN comes
    after them, never instead of them."""
    st = serve(tail_on_drain)
    port = st.port
    if secure:
        port = tls_listener(st, pki)
        sock = connect(port, client_context(pki), timeout=30)
    else:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    with sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = bytearray()
        while True:
            chunk = sock.recv(MB)
            if not chunk:
                break
            data += chunk
    st.wait_for(lambda e: e[0] == "ended")
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head[:200]
    assert len(body) == 24 * MB, len(body)
    assert body.endswith(b"y" * 1000)
