"""The PROXY protocol on the real daemon under odd and hostile peers: headers cut
anywhere, the longest v2 header, LOCAL and UNKNOWN, resets, a header where none is
expected and none where one is, untrusted peers, slow headers, and a header followed by
a TLS handshake cut anywhere. Each failure is counted by reason, the worker stays up
and serves the next connection, and no descriptor leaks."""

import re
import socket
import ssl
import struct
import time

import pytest

from daemon import Daemon, wait_until
from harness import read_until_close
from prefork.net import proxy
from test_hostile_net_tls import BioClient, client_context, fd_count, pki, reset  # noqa: F401  (pki: a fixture)

CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
V1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 4444 80\r\n"


def v2(command=1, family=1, transport=1, body=b""):
    return proxy.V2_SIGNATURE + bytes([0x20 | command, family << 4 | transport]) + struct.pack("!H", len(body)) + body


def inet4(src, dst, sport, dport):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)


def tlvs_to(total):
    """TLVs (type 0xE0, unassigned) filling ``total`` bytes."""
    out = b""
    while len(out) < total:
        size = min(total - len(out) - 3, 65535 - 3)
        out += bytes([0xE0]) + struct.pack("!H", size) + b"t" * size
    return out


LONGEST = v2(body=inet4("198.51.100.9", "127.0.0.1", 5555, 80) + tlvs_to(65535 - 12))


@pytest.fixture(scope="module")
def daemon(pki):  # noqa: F811
    """Every listener expects a header: the inherited one speaks TLS, a plain one beside it."""
    d = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--bind", "http://127.0.0.1:0", "--proxy-protocol",
               "--proxy-protocol-timeout", "1", "--tls-handshake-timeout", "2", app="apps.fleet:v1", workers=1)
    try:
        d.wait_ready()
        d.wait_log(r"listening at 127\.0\.0\.1:(\d+) \(http://")
        d.plain_port = int(re.search(r"listening at 127\.0\.0\.1:(\d+) \(http://", d.log()).group(1))
        d.worker = d.workers()[0]
        assert b"client=203.0.113.7:4444" in ask(d.plain_port, V1 + CLOSE)
        d.fds = fd_count(d.worker)
        yield d
    finally:
        d.cleanup()


def ask(port, data, pieces=None, source=None):
    """Send ``data`` (in ``pieces`` if given, one segment each) and read until closed."""
    sock = socket.socket()
    sock.settimeout(20)
    if source is not None:
        sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with sock:
        if pieces is None:
            sock.sendall(data)
        else:
            at = 0
            for size in pieces:
                sock.sendall(data[at:at + size])
                at += size
            sock.sendall(data[at:])
        return read_until_close(sock)


def errors(d, reason):
    return d.scrape().get(("prefork_proxy_protocol_errors_total", (("reason", reason),)), 0)


def worker_fine(d, pki):  # noqa: F811
    assert b"client=203.0.113.7:4444" in ask(d.plain_port, V1 + CLOSE)
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    raw.sendall(V1)
    with client_context(pki).wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(CLOSE)
        assert f"pid={d.worker} client=203.0.113.7:4444".encode() in read_until_close(sock)
    assert d.workers() == [d.worker]
    wait_until(lambda: fd_count(d.worker) <= d.fds, 20, 0.05, f"the worker's descriptors back to {d.fds}")
    log = d.log()
    assert "Traceback" not in log and "Exception in callback" not in log, log[-3000:]


@pytest.mark.parametrize("pieces", [None, [1] * 20, [3, 200, 4000, 30000, 17], [65551]],
                         ids=["whole", "bytewise-start", "odd", "header-then-request"])
def test_the_longest_v2_header_in_any_pieces(daemon, pki, pieces):  # noqa: F811
    assert len(LONGEST) == 16 + 65535
    answer = ask(daemon.plain_port, LONGEST + CLOSE, pieces)
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"client=198.51.100.9:5555" in answer, answer[:300]
    worker_fine(daemon, pki)


@pytest.mark.parametrize("header", [
    v2(command=0),  # LOCAL: a balancer's health check
    v2(command=0, body=inet4("198.51.100.9", "127.0.0.1", 5555, 80) + tlvs_to(100)),  # LOCAL with addresses
    b"PROXY UNKNOWN\r\n",
    b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
], ids=["v2-local", "v2-local-addresses", "v1-unknown", "v1-unknown-addresses"])
def test_local_and_unknown_keep_the_connections_own_address(daemon, pki, header):  # noqa: F811
    answer = ask(daemon.plain_port, header + CLOSE, [len(header) - 1])
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"client=127.0.0.1:" in answer, answer
    worker_fine(daemon, pki)


@pytest.mark.parametrize("data, then, reason", [
    (V1[:20], "rst", "closed"),
    (LONGEST[:30000], "rst", "closed"),
    (V1[:20], "fin", "closed"),
    (CLOSE, "fin", "invalid"),  # HTTP straight to a PROXY listener
    (b"\x16\x03\x01\x02\x00\x01", "fin", "invalid"),  # TLS straight to it
    (b"PROXY TCP4 203.0.113.7 127.0.0.1 4444 80\n", "fin", "invalid"),  # LF alone
    (v2(family=1, body=b"\0" * 11), "fin", "invalid"),  # shorter than its addresses
], ids=["v1-half-rst", "v2-half-rst", "v1-half-fin", "http", "tls", "v1-lf", "v2-short"])
def test_broken_and_abandoned_headers_are_counted_and_closed(daemon, pki, data, then, reason):  # noqa: F811
    before = errors(daemon, reason)
    sock = socket.create_connection(("127.0.0.1", daemon.plain_port), timeout=20)
    sock.sendall(data)
    if then == "rst":
        reset(sock)
    else:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # refused at the first byte: the server's side may be gone already
            pass
        assert read_until_close(sock) == b""  # closed unanswered
        sock.close()
    # (at least: a reset in another test may be counted a heartbeat later)
    wait_until(lambda: errors(daemon, reason) >= before + 1, 20, 0.1, f"{reason} counted")
    worker_fine(daemon, pki)


@pytest.mark.parametrize("data", [V1, V1 + CLOSE, LONGEST, LONGEST + CLOSE], ids=["v1", "v1-request", "v2",
                                                                                 "v2-request"])
def test_a_header_then_an_immediate_reset(daemon, pki, data):  # noqa: F811
    """The reset is seen while the header is read (counted "closed") or by the connection
    made after it, depending on which comes first: either way the socket is closed."""
    sock = socket.create_connection(("127.0.0.1", daemon.plain_port), timeout=20)
    sock.sendall(data)
    reset(sock)
    worker_fine(daemon, pki)


def test_a_peer_outside_the_allowed_addresses_is_refused(daemon, pki):  # noqa: F811
    before = errors(daemon, "untrusted")
    assert ask(daemon.plain_port, V1 + CLOSE, source="127.0.0.2") == b""
    wait_until(lambda: errors(daemon, "untrusted") == before + 1, 20, 0.1, "untrusted counted")
    worker_fine(daemon, pki)


def test_a_slow_header_times_out(daemon, pki):  # noqa: F811
    before = errors(daemon, "timeout")
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", daemon.plain_port), timeout=20) as sock:
        sock.sendall(V1[:10])
        assert read_until_close(sock) == b""
    assert time.monotonic() - started >= 0.9  # proxy_protocol_timeout is 1 s
    wait_until(lambda: errors(daemon, "timeout") == before + 1, 20, 0.1, "timeout counted")
    worker_fine(daemon, pki)


def test_many_bad_headers_in_a_row(daemon, pki):  # noqa: F811
    before = errors(daemon, "invalid")
    for i in range(60):
        with socket.create_connection(("127.0.0.1", daemon.plain_port if i % 2 else daemon.port), timeout=20) as s:
            s.sendall(b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n" if i % 3 else b"GET / HTTP/1.1\r\n\r\n")
            assert read_until_close(s) == b""
    wait_until(lambda: errors(daemon, "invalid") == before + 60, 20, 0.1, "every bad header counted")
    worker_fine(daemon, pki)


def handshake_after(daemon, pki, header, cut):  # noqa: F811
    """``header`` and the ClientHello in segments cut by ``cut(header, hello)``; then one
    request over TLS: the answer."""
    client = BioClient(daemon.port, client_context(pki))
    try:
        hello = b""
        try:
            client.tls.do_handshake()
        except ssl.SSLWantReadError:
            hello = client.wire()
        for segment in cut(header, hello):
            client.raw.sendall(segment)
        client.handshake()
        client.raw.sendall(client.records(CLOSE))
        return client.read_until_end()
    finally:
        client.close()


@pytest.mark.parametrize("header", [V1, v2(body=inet4("203.0.113.7", "127.0.0.1", 4444, 443) + tlvs_to(300)),
                                    LONGEST[:16] + LONGEST[16:].replace(
                                        socket.inet_aton("198.51.100.9"), socket.inet_aton("203.0.113.7"), 1)
                                    .replace(struct.pack("!H", 5555), struct.pack("!H", 4444), 1)],
                         ids=["v1", "v2", "v2-longest"])
@pytest.mark.parametrize("cut", [
    lambda h, c: [h + c],  # one segment
    lambda h, c: [h[:-1], h[-1:] + c[:1], c[1:]],  # the header's last byte with the hello's first
    lambda h, c: [h + c[:5], c[5:]],  # the header and the record header
    lambda h, c: [bytes([b]) for b in (h + c)[:200]] + [(h + c)[200:]],  # byte by byte
], ids=["together", "boundary", "record-header", "bytewise"])
def test_a_header_then_a_tls_handshake_cut_anywhere(daemon, pki, header, cut):  # noqa: F811
    answer = handshake_after(daemon, pki, header, cut)
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"client=203.0.113.7:4444" in answer, answer
    worker_fine(daemon, pki)


def test_a_whole_tls_session_byte_by_byte_after_the_header(daemon, pki):  # noqa: F811
    """Every byte of the handshake and of the request in a segment of its own."""
    client = BioClient(daemon.port, client_context(pki))
    try:
        def bytewise(data):
            for byte in data:
                client.raw.sendall(bytes([byte]))
        bytewise(V1)
        client.handshake(send=bytewise)
        bytewise(client.records(CLOSE))
        answer = client.read_until_end()
    finally:
        client.close()
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"client=203.0.113.7:4444" in answer, answer
    worker_fine(daemon, pki)


def test_a_header_on_a_listener_that_expects_none_is_a_bad_request(pki):  # noqa: F811
    d = Daemon(app="apps.fleet:v1", workers=1)
    try:
        d.wait_ready()
        worker = d.workers()[0]
        answer = ask(d.port, V1 + CLOSE)
        assert answer.startswith(b"HTTP/1.1 400 Bad Request"), answer  # Node's answer to bytes that are not HTTP
        answer = ask(d.port, LONGEST[:16] + CLOSE)
        assert answer.startswith(b"HTTP/1.1 400 Bad Request"), answer
        assert b"client=127.0.0.1:" in ask(d.port, CLOSE) and d.workers() == [worker]
    finally:
        d.cleanup()
