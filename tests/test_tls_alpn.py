"""ALPN as Node's https server (ALPNProtocols ['http/1.1']) answers it, but for an offer of
http/1.0 without http/1.1 (curl --http1.0), which gets http/1.0 as from nginx: a client
whose offer has neither (h2 alone, or names the server does not speak) is refused during the
handshake with a no_application_protocol alert and a tlsClientError
ERR_SSL_NO_APPLICATION_PROTOCOL; a client offering http/1.1 among others gets it; a
client that offers no ALPN is served. Real clients: openssl s_client and Python's ssl;
a raw socket for a ClientHello cut into two records and sent byte by byte."""

import socket
import ssl
import subprocess

import pytest

from daemon import wait_until
from debian import ensure
from test_hostile_net_tls import (assert_worker_fine, client_context, pki, tls_daemon, tls_failures,  # noqa: F401
                                  tls_listener)

ALERT = b"\x15\x03\x03\x00\x02\x02\x78"  # fatal, no_application_protocol (120)
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def hello_server(server, st):
    server.on("request", lambda req, res: res.end(f"alpn={req.socket.alpn_protocol}".encode()))
    server.on("tlsClientError", lambda err, sock: st.record("tlsClientError", err.code, str(err)))


def s_client(port, *args):
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    out = subprocess.run([path, "s_client", "-connect", f"127.0.0.1:{port}", "-ign_eof", *args], input=REQUEST,
                         capture_output=True, timeout=10)
    return (out.stdout + out.stderr).decode(errors="replace")


@pytest.mark.parametrize("offer", ["h2", "spdy/3,h2c"])
def test_an_offer_without_http11_is_refused_with_no_application_protocol(serve, pki, offer):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    out = s_client(port, "-alpn", offer)
    assert "alert no application protocol" in out and "SSL alert number 120" in out, out[-1500:]
    assert "HTTP/1.1 200" not in out
    event = st.wait_for(lambda e: e[0] == "tlsClientError")
    assert event[1] == "ERR_SSL_NO_APPLICATION_PROTOCOL", event
    assert offer.split(",")[0] in event[2], event


@pytest.mark.parametrize("args, chosen", [(["-alpn", "h2,http/1.1"], "http/1.1"), ([], "False"),
                                          (["-alpn", "h2,http/1.0"], "http/1.0"),
                                          (["-alpn", "http/1.0,http/1.1"], "http/1.1")],
                         ids=["h2-and-http1.1", "no-alpn", "http1.0-as-nginx", "http1.1-preferred"])
def test_an_offer_with_http11_or_no_offer_is_served(serve, pki, args, chosen):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    out = s_client(port, *args)
    assert "HTTP/1.1 200 OK" in out and f"alpn={chosen}" in out, out[-1500:]
    assert not [e for e in st.events if e[0] == "tlsClientError"], st.events


def test_pythons_client_offering_h2_alone_gets_the_alert(serve, pki):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    context = client_context(pki)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError) as caught:
            context.wrap_socket(raw, server_hostname="localhost")
    assert "alert no application protocol" in str(caught.value), caught.value
    st.wait_for(lambda e: e[:2] == ("tlsClientError", "ERR_SSL_NO_APPLICATION_PROTOCOL"))


def client_hello(alpn):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        context.wrap_bio(incoming, outgoing, server_hostname="localhost").do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


@pytest.mark.parametrize("alpn, refused", [(["h2"], True), (["h2", "http/1.1"], False)])
def test_a_client_hello_in_two_records_sent_byte_by_byte_is_read_whole(serve, pki, alpn, refused):  # noqa: F811
    """The offer is read from the whole ClientHello, however the records and the TCP
    segments cut it: refused with the alert alone, or answered with a ServerHello."""
    st = serve(hello_server)
    port = tls_listener(st, pki)
    hello = client_hello(alpn)
    header, body = hello[:3], hello[5:]
    two = b"".join(header + len(part).to_bytes(2, "big") + part for part in (body[:40], body[40:]))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(two)):
            sock.sendall(two[i:i + 1])
        answer = b""
        while len(answer) < 7:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    if refused:
        assert answer == ALERT, answer[:20]
        st.wait_for(lambda e: e[:2] == ("tlsClientError", "ERR_SSL_NO_APPLICATION_PROTOCOL"))
    else:
        assert answer[:1] == b"\x16" and answer[5:6] == b"\x02", answer[:20]  # a ServerHello


def test_the_daemon_refuses_an_h2_only_offer_counts_it_and_serves_on(tls_daemon, pki):  # noqa: F811
    before = tls_failures(tls_daemon, "ERR_SSL_NO_APPLICATION_PROTOCOL")
    out = s_client(tls_daemon.port, "-alpn", "h2", "-CAfile", pki.ca, "-servername", "localhost")
    assert "alert no application protocol" in out and "HTTP/1.1 200" not in out, out[-1500:]
    wait_until(lambda: tls_failures(tls_daemon, "ERR_SSL_NO_APPLICATION_PROTOCOL") == before + 1, 5, 0.05,
               "the refusal counted by its code")
    out = s_client(tls_daemon.port, "-alpn", "h2,http/1.1", "-CAfile", pki.ca, "-servername", "localhost")
    assert "ALPN protocol: http/1.1" in out and "HTTP/1.1 200 OK" in out, out[-1500:]
    assert_worker_fine(tls_daemon, pki)
