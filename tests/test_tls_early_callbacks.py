"""A write made on a TLS socket before its handshake has finished (by a 'connection'
listener) is held in the socket's queue as Node's TLSSocket holds it: ``writable_length``
counts its bytes until they go out after the handshake, its callback runs after
'secureConnection' (Node: after 'secure'), and a write past the high-water mark returns
False and gets its 'drain' once the handshake's end has flushed it. Real clients:
Python's ssl and curl."""

import socket
import subprocess

import pytest

from debian import ensure
from test_hostile_net_tls import client_context, pki, tls_listener  # noqa: F401
from test_tls_early_writes import read_to_end

EARLY = b"early bytes\n"


def recording(large=False):
    def setup(server, st):
        def connection(sock):
            data = b"x" * (sock.high_water_mark + 1) if large else EARLY
            written = sock.write(data, lambda: st.record("callback", sock.writable_length))
            st.record("write", written, sock.writable_length)
            sock.on("drain", lambda: st.record("drain", sock.writable_length))
            sock.end()
            sock.on("finish", lambda: st.record("finish"))
        server.on("connection", connection)
        server.on("secureConnection", lambda sock: st.record("secure", sock.writable_length))
    return setup


def names(st):
    return [e[0] for e in st.events]


def test_an_early_write_is_counted_and_its_callback_runs_after_the_handshake(serve, pki):  # noqa: F811
    st = serve(recording())
    port = tls_listener(st, pki)
    data, close_notify = read_to_end(port, pki)
    assert data == EARLY and close_notify
    st.wait_for(lambda e: e[0] == "finish")
    assert names(st) == ["write", "secure", "callback", "finish"], st.events
    events = dict((e[0], e[1:]) for e in st.events)
    assert events["write"] == (True, len(EARLY))  # Node: true, writableLength 12
    assert events["secure"] == (len(EARLY),)  # still queued at 'secure', as Node's is
    assert events["callback"] == (0,)


def test_an_early_write_past_the_high_water_mark_drains_after_the_handshake(serve, pki):  # noqa: F811
    st = serve(recording(large=True))
    port = tls_listener(st, pki)
    data, close_notify = read_to_end(port, pki)
    st.wait_for(lambda e: e[0] == "finish")
    size = len(data)
    assert close_notify and size > 64 * 1024 and data == b"x" * size
    events = dict((e[0], e[1:]) for e in st.events)
    assert events["write"] == (False, size), st.events
    assert events["secure"] == (size,), st.events
    order = names(st)
    assert order.index("secure") < order.index("callback") < order.index("finish"), order
    assert "drain" in order and order.index("secure") < order.index("drain"), order


def test_a_client_that_never_shakes_hands_never_runs_the_callback(serve, pki):  # noqa: F811
    """The early write's callback waits for the handshake; a client that only connects
    and leaves gets it run at the destroy, after the TLS client error, never before."""
    def setup(server, st):
        server.on("connection", lambda sock: sock.write(EARLY, lambda: st.record("callback")))
        server.on("tlsClientError", lambda err, sock: st.record("tlsClientError", err.code))
    st = serve(setup)
    port = tls_listener(st, pki)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00")  # the start of a record, no more
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""  # nothing in the clear, nothing encrypted
    st.wait_for(lambda e: e[0] == "callback")
    assert names(st) == ["tlsClientError", "callback"], st.events


def test_curl_gets_the_early_bytes_after_the_handshake(serve, pki):  # noqa: F811
    path, why = ensure("curl", "curl")
    if path is None:
        pytest.skip(why)
    st = serve(recording())
    port = tls_listener(st, pki)
    out = subprocess.run([path, "-sS", "--cacert", pki.ca, "--http0.9", "--max-time", "5",
                          f"https://localhost:{port}/", "--resolve", f"localhost:{port}:127.0.0.1"],
                         capture_output=True, timeout=10)
    assert out.stdout == EARLY, out
    st.wait_for(lambda e: e[0] == "finish")
    assert names(st) == ["write", "secure", "callback", "finish"], st.events
