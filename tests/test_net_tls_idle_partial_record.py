"""After the TLS handshake, only plaintext (or the close_notify) is activity for a
socket's idle timer, as Node's TLSSocket refreshes its timer on what it decrypts: the
bytes of a record that is never finished, sent one at a time, do not hold an idle
keep-alive connection open (a slowloris no ``headers_timeout`` would ever see, since no
byte of a request reaches the parser), nor keep ``server.timeout`` from firing. Node's
https server closes such a connection at its keep-alive timeout + 1 s; a record that
does come whole is a request as ever."""

import ssl
import time

from test_hostile_net_tls import BioClient, client_context, pki, tls_listener  # noqa: F401

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
NEXT = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 3000 + b"\r\n\r\n"


def hello(server, st):
    def on_request(req, res):
        req.on("data", lambda chunk: None)
        req.on("end", lambda: res.end(b"hi"))
    server.on("request", on_request)
    server.on("connection", lambda sock: sock.on("close", lambda _=False: st.record("closed", time.monotonic())))
    server.on("timeout", lambda sock: (st.record("timeout", time.monotonic()), sock.destroy()))


def answered(client):
    """Read until the response to one request (and the session tickets) came."""
    data = b""
    while not data.endswith(b"hi"):
        try:
            data += client.tls.read(65536)
            continue
        except ssl.SSLWantReadError:
            pass
        wire = client.raw.recv(65536)
        assert wire, "closed before the response"
        client.incoming.write(wire)
    return data


def trickle_until_closed(client, wire, every=0.05, limit=6.0):
    """Send ``wire`` (a record, its last byte held back) a byte at a time until the server
    closes; the seconds that took, or None when it stayed open for ``limit``."""
    started = time.monotonic()
    for byte in wire[:-1]:
        if time.monotonic() - started > limit:
            return None
        try:
            client.raw.send(bytes([byte]))
        except OSError:
            return time.monotonic() - started
        time.sleep(every)
    return None


def test_a_record_trickled_a_byte_at_a_time_does_not_hold_an_idle_keep_alive_connection(serve, pki):  # noqa: F811
    st = serve(hello, keep_alive_timeout=0.5)
    port = tls_listener(st, pki)
    client = BioClient(port, client_context(pki), timeout=5).handshake()
    try:
        client.raw.sendall(client.records(REQUEST))
        assert answered(client).startswith(b"HTTP/1.1 200 OK")
        idle_from = time.monotonic()
        took = trickle_until_closed(client, client.records(NEXT))
        _, closed_at = st.wait_for(lambda e: e[0] == "closed")
    finally:
        client.close()
    assert took is not None, "the connection stayed open while a record came a byte at a time"
    assert 1.3 <= closed_at - idle_from < 3.0, closed_at - idle_from  # keep-alive timeout + 1 s, as Node


def test_a_trickled_record_does_not_keep_the_server_timeout_from_firing(serve, pki):  # noqa: F811
    """Mid-request (its head whole, its body's record coming a byte at a time), Node's
    ``server.timeout`` fires as when nothing at all comes."""
    def setup(server, st):
        hello(server, st)
        server.set_timeout(0.5)
    st = serve(setup)
    port = tls_listener(st, pki)
    client = BioClient(port, client_context(pki), timeout=5).handshake()
    try:
        client.raw.sendall(client.records(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n"))
        began = time.monotonic()
        took = trickle_until_closed(client, client.records(b"b" * 3000))
        _, fired_at = st.wait_for(lambda e: e[0] == "timeout")
    finally:
        client.close()
    assert took is not None and fired_at - began < 2.0, (took, fired_at - began)


def test_a_record_that_comes_whole_is_still_activity_and_answered(serve, pki):  # noqa: F811
    """The control: plaintext records keep a connection busy, and the request they carry is
    answered, however slowly its record came (within the idle timeout)."""
    st = serve(hello, keep_alive_timeout=1.0)
    port = tls_listener(st, pki)
    client = BioClient(port, client_context(pki), timeout=5).handshake()
    try:
        for _ in range(4):  # 4 requests 0.6 s apart: each record resets the 2 s keep-alive timer
            time.sleep(0.6)
            client.raw.sendall(client.records(REQUEST))
            assert answered(client).startswith(b"HTTP/1.1 200 OK")
        wire = client.records(NEXT)
        for i in range(0, len(wire), 1000):  # a record cut in parts, then whole, in well under 2 s
            client.raw.sendall(wire[i:i + 1000])
            time.sleep(0.1)
        assert answered(client).startswith(b"HTTP/1.1 200 OK")
        assert not any(e[0] == "closed" for e in st.events)  # (before the client closes)
    finally:
        client.close()
