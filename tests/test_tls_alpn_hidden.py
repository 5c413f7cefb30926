"""The ALPN refusal reads every ClientHello OpenSSL answers, and reads it as OpenSSL
does: empty handshake and change_cipher_spec records before (or inside) the hello are
skipped, so they cannot hide an h2-only offer; and after a HelloRetryRequest (TLS 1.3)
the client's second hello is judged as the first, whether it comes after the retry
request or in the same write as the first hello. Crafted bytes on a real socket (a
ClientHello made by Python's ssl, its key share emptied to make the server ask again)
and openssl s_client."""

import socket
import subprocess
import time

import pytest

from debian import ensure
from test_hostile_net_tls import pki, tls_listener  # noqa: F401
from test_tls_alpn import ALERT, REQUEST, client_hello, hello_server

RETRY_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
EMPTY_HANDSHAKE = b"\x16\x03\x01\x00\x00"
EMPTY_CCS = b"\x14\x03\x03\x00\x00"
CCS = b"\x14\x03\x03\x00\x01\x01"  # the one a TLS 1.3 client sends before its second hello


def with_extension(hello, kind, data):
    """The ClientHello record ``hello`` with extension ``kind``'s data replaced."""
    m = hello[5:]
    at = 39 + m[38]
    at += 2 + int.from_bytes(m[at:at + 2], "big")
    at += 1 + m[at]
    start, end, at, out = at, at + 2 + int.from_bytes(m[at:at + 2], "big"), at + 2, []
    while at < end:
        size = int.from_bytes(m[at + 2:at + 4], "big")
        body = data if int.from_bytes(m[at:at + 2], "big") == kind else m[at + 4:at + 4 + size]
        out.append(m[at:at + 2] + len(body).to_bytes(2, "big") + body)
        at += 4 + size
    extensions = b"".join(out)
    body = m[4:start] + len(extensions).to_bytes(2, "big") + extensions
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return hello[:3] + len(message).to_bytes(2, "big") + message


def asking_again(alpn):
    """A TLS 1.3 ClientHello with no key share: the server must answer a HelloRetryRequest."""
    return with_extension(client_hello(alpn), 51, b"\x00\x00")


def records_of(sock, count, timeout=5.0):
    """The first ``count`` records the server sends (fewer if it closes): [(type, body)]."""
    deadline, data, out = time.monotonic() + timeout, b"", []
    while len(out) < count and time.monotonic() < deadline:
        while len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big") and len(out) < count:
            size = int.from_bytes(data[3:5], "big")
            out.append((data[0], data[5:5 + size]))
            data = data[5 + size:]
        if len(out) == count:
            break
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return out


def is_retry_request(record):
    return record[0] == 22 and record[1][:1] == b"\x02" and record[1][6:38] == RETRY_RANDOM


def is_server_hello(record):
    return record[0] == 22 and record[1][:1] == b"\x02" and record[1][6:38] != RETRY_RANDOM


ALERT_RECORD = (21, ALERT[5:])


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@pytest.mark.parametrize("before", [EMPTY_HANDSHAKE, EMPTY_HANDSHAKE * 32, EMPTY_CCS, EMPTY_CCS + EMPTY_HANDSHAKE],
                         ids=["empty-handshake", "32-empty-handshakes", "empty-ccs", "empty-ccs-and-handshake"])
@pytest.mark.parametrize("alpn, refused", [(["h2"], True), (["h2", "http/1.1"], False)], ids=["h2", "h2-http1.1"])
def test_empty_records_before_the_hello_do_not_hide_its_offer(serve, pki, before, alpn, refused):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    with connect(port) as sock:
        sock.sendall(before + client_hello(alpn))
        first = records_of(sock, 1)
    if refused:
        assert first == [ALERT_RECORD], first
        st.wait_for(lambda e: e[:2] == ("tlsClientError", "ERR_SSL_NO_APPLICATION_PROTOCOL"))
    else:
        assert first and is_server_hello(first[0]), first  # (a refusal comes before any ServerHello)


def test_past_32_empty_records_the_reader_leaves_the_hello_to_openssl():
    """What is held before OpenSSL sees it stays small; OpenSSL refuses 33 in a row."""
    from prefork.net.hello import offered_alpn
    hello = client_hello(["h2"])
    assert offered_alpn(EMPTY_HANDSHAKE * 32 + hello) == (b"h2",)
    assert offered_alpn(EMPTY_HANDSHAKE * 33 + hello) is False


def test_33_empty_records_in_a_row_are_refused_by_openssl(serve, pki):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    with connect(port) as sock:
        sock.sendall(EMPTY_HANDSHAKE * 33 + client_hello(["h2", "http/1.1"]))
        first = records_of(sock, 1)
    assert first and first[0][0] == 21, first  # an alert, never a ServerHello
    st.wait_for(lambda e: e[:2] == ("tlsClientError", "ERR_SSL_RECORD_TOO_SMALL"))


def test_an_empty_record_between_the_pieces_of_a_hello_does_not_hide_its_offer(serve, pki):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    hello = client_hello(["h2"])
    body = hello[5:]
    pieces = [hello[:3] + len(part).to_bytes(2, "big") + part for part in (body[:50], body[50:])]
    with connect(port) as sock:
        sock.sendall(pieces[0] + EMPTY_HANDSHAKE + EMPTY_CCS + pieces[1])
        assert records_of(sock, 1) == [ALERT_RECORD]
    st.wait_for(lambda e: e[:2] == ("tlsClientError", "ERR_SSL_NO_APPLICATION_PROTOCOL"))


@pytest.mark.parametrize("ccs", [CCS, b""], ids=["ccs", "no-ccs"])
@pytest.mark.parametrize("alpn, refused", [(["h2"], True), (["http/1.1"], False), ([], False)],
                         ids=["h2", "http1.1", "no-alpn"])
def test_the_hello_after_a_retry_request_is_judged_as_the_first(serve, pki, ccs, alpn, refused):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    with connect(port) as sock:
        sock.sendall(asking_again(["http/1.1"]))
        first = records_of(sock, 1)
        assert first and is_retry_request(first[0]), first
        sock.sendall(ccs + client_hello(alpn))
        answer = [r for r in records_of(sock, 2) if r[0] != 20]  # (the server's compatibility CCS)
    if refused:
        assert answer[:1] == [ALERT_RECORD], answer[:2]
        event = st.wait_for(lambda e: e[0] == "tlsClientError")
        assert event[1] == "ERR_SSL_NO_APPLICATION_PROTOCOL" and "h2" in event[2], event
    else:
        assert answer and is_server_hello(answer[0]), answer[:2]


def test_a_second_hello_sent_with_the_first_is_judged_before_openssl_reads_it(serve, pki):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    with connect(port) as sock:
        sock.sendall(asking_again(["http/1.1"]) + CCS + client_hello(["h2"]))
        answer = [r for r in records_of(sock, 3) if r[0] != 20]
    assert answer and is_retry_request(answer[0]), answer[:1]
    assert answer[1:2] == [ALERT_RECORD], answer[1:3]  # never a ServerHello
    st.wait_for(lambda e: e[:2] == ("tlsClientError", "ERR_SSL_NO_APPLICATION_PROTOCOL"))


def test_a_first_hello_refused_gets_no_retry_request(serve, pki):  # noqa: F811
    st = serve(hello_server)
    port = tls_listener(st, pki)
    with connect(port) as sock:
        sock.sendall(asking_again(["h2"]))
        assert records_of(sock, 1) == [ALERT_RECORD]
    st.wait_for(lambda e: e[:2] == ("tlsClientError", "ERR_SSL_NO_APPLICATION_PROTOCOL"))


@pytest.mark.parametrize("groups", ["X448:X25519", "P-384:X25519"])
def test_openssl_s_client_with_other_groups_is_served_and_refused_as_before(serve, pki, groups):  # noqa: F811
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    st = serve(hello_server)
    port = tls_listener(st, pki)
    for alpn, expected in (("http/1.1", "alpn=http/1.1"), ("h2", "alert no application protocol")):
        out = subprocess.run([path, "s_client", "-connect", f"127.0.0.1:{port}", "-ign_eof", "-groups", groups,
                              "-alpn", alpn], input=REQUEST, capture_output=True, timeout=10)
        text = (out.stdout + out.stderr).decode(errors="replace")
        assert expected in text, text[-1500:]
