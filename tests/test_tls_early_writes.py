"""Bytes written on a TLS socket before its handshake has finished (by a 'connection'
listener, which runs at accept) wait for the handshake and go out after it, as Node's
TLSSocket queues them; an end() (or destroy_soon) made then sends its close_notify and
FIN after them, not at once. Real clients: Python's ssl and curl."""

import socket
import ssl
import subprocess

import pytest

from debian import ensure
from test_hostile_net_tls import client_context, pki, tls_listener  # noqa: F401

ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
          b"Connection: close\r\n\r\nbusy\n")


def read_to_end(port, pki):  # noqa: F811
    """Shake hands as a client, then everything until the server's close_notify (or FIN):
    (plaintext, whether the stream ended with close_notify)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with client_context(pki).wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as sock:
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ssl.SSLEOFError:  # a FIN without close_notify
                return data, False
            if not chunk:
                return data, True
            data += chunk


def on_connection(st, act):
    def setup(server, st_):
        def connection(sock):
            sock.on("finish", lambda: st_.record("finish"))
            sock.on("close", lambda _=False: st_.record("close"))
            act(sock, st_)
        server.on("connection", connection)
        server.on("secureConnection", lambda sock: st_.record("secure"))
    return setup


@pytest.mark.parametrize("how", ["end(data)", "write, end()", "write, end(data, callback)"])
def test_what_is_written_and_ended_before_the_handshake_goes_out_after_it(serve, pki, how):  # noqa: F811
    def act(sock, st):
        if how == "end(data)":
            sock.end(b"early bytes\n")
        elif how == "write, end()":
            sock.write(b"early ")
            sock.write(b"bytes\n")
            sock.end()
        else:
            sock.write(b"early ")
            sock.end(b"bytes\n", lambda: st.record("end callback"))
    st = serve(on_connection(None, act))
    port = tls_listener(st, pki)
    data, close_notify = read_to_end(port, pki)
    assert data == b"early bytes\n"
    assert close_notify, "the stream ends in order, with close_notify"
    st.wait_for(lambda e: e == ("close",))
    events = [e[0] for e in st.events]
    assert events.index("secure") < events.index("finish") < events.index("close"), events  # Node's order
    if how == "write, end(data, callback)":
        assert "end callback" in events, events


def test_destroy_soon_before_the_handshake_closes_after_the_bytes_written(serve, pki):  # noqa: F811
    def act(sock, st):
        sock.write(b"goodbye\n")
        sock.destroy_soon()
    st = serve(on_connection(None, act))
    port = tls_listener(st, pki)
    data, close_notify = read_to_end(port, pki)
    assert (data, close_notify) == (b"goodbye\n", True)
    st.wait_for(lambda e: e == ("close",))


@pytest.fixture(scope="module")
def curl():
    path, why = ensure("curl", "curl")
    if path is None:
        pytest.skip(why)
    return path


@pytest.mark.parametrize("event", ["connection", "secureConnection"])
def test_a_connection_close_answer_written_by_a_listener_reaches_curl(serve, pki, curl, event):  # noqa: F811
    """A listener turning clients away with an HTTP answer of its own (a busy server):
    at 'connection' the handshake has not started, at 'secureConnection' it has just
    ended; curl gets the whole answer either way."""
    def setup(server, st):
        server.on(event, lambda sock: sock.end(ANSWER))
    st = serve(setup)
    port = tls_listener(st, pki)
    out = subprocess.run([curl, "-sS", "--max-time", "4", "--cacert", pki.ca, "-w", "\n%{http_code}",
                          f"https://localhost:{port}/"], capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"busy\n\n503", out.stdout
