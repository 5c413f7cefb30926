"""The PROXY protocol, v1 and v2: the parser on tables of real headers (whole, byte by
byte, in seeded random splits, and through the peek/consume step with the request right
behind), the server's header step on real loopback sockets (split reads, timeout, bad
and untrusted peers, drain), and Debian's HAProxy (``send-proxy``, ``send-proxy-v2``) in
front of a real daemon: the events app, the WSGI app and the access log see the client.
"""

import os
import random
import re
import socket
import struct
import threading
import time

import pytest

import haproxy
import prefork
from daemon import Daemon, wait_until
from harness import read_until_close
from prefork.net import proxy
from prefork.runtime import new_event_loop

SIG = proxy.V2_SIGNATURE


def v2(command=1, family=1, transport=1, body=b"", length=None):
    length = len(body) if length is None else length
    return SIG + bytes([0x20 | command, family << 4 | transport]) + struct.pack("!H", length) + body


def inet4(src, dst, sport, dport):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)


def inet6(src, dst, sport, dport):
    return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!HH", sport, dport))


def tlv(kind, value):
    return bytes([kind]) + struct.pack("!H", len(value)) + value


UNIX_BODY = b"/run/client.sock".ljust(108, b"\0") + b"/run/server.sock".ljust(108, b"\0")

# (name, header bytes, (version, command, family, source, source port, destination, destination port))
VALID = [
    ("v1 tcp4", b"PROXY TCP4 192.0.2.10 198.51.100.7 56324 443\r\n",
     (1, "PROXY", "IPv4", "192.0.2.10", 56324, "198.51.100.7", 443)),
    ("v1 tcp6", b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n",
     (1, "PROXY", "IPv6", "2001:db8::1", 65535, "2001:db8::2", 0)),
    ("v1 unknown", b"PROXY UNKNOWN\r\n", (1, "PROXY", None, None, None, None, None)),
    ("v1 unknown with addresses", b"PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n",
     (1, "PROXY", None, None, None, None, None)),
    ("v1 longest", b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
     b"65535 65535\r\n", (1, "PROXY", "IPv6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535)),
    ("v2 inet", v2(body=inet4("203.0.113.9", "10.0.0.1", 40000, 8080)),
     (2, "PROXY", "IPv4", "203.0.113.9", 40000, "10.0.0.1", 8080)),
    ("v2 inet6", v2(family=2, body=inet6("2001:db8::9", "::1", 1, 2)),
     (2, "PROXY", "IPv6", "2001:db8::9", 1, "::1", 2)),
    ("v2 unix", v2(family=3, body=UNIX_BODY), (2, "PROXY", "unix", "/run/client.sock", None, "/run/server.sock", None)),
    ("v2 local", v2(command=0, family=0, transport=0), (2, "LOCAL", None, None, None, None, None)),
    ("v2 local with addresses", v2(command=0, body=inet4("1.1.1.1", "2.2.2.2", 3, 4)),
     (2, "LOCAL", None, None, None, None, None)),
    ("v2 unspec", v2(family=0, transport=0), (2, "PROXY", None, None, None, None, None)),
    ("v2 local, family byte unknown", v2(command=0, family=4, transport=3), (2, "LOCAL", None, None, None, None, None)),
    ("v2 local, family without transport", v2(command=0, family=1, transport=0, body=b"\0" * 12),
     (2, "LOCAL", None, None, None, None, None)),
    ("v2 inet with TLVs", v2(body=inet4("198.51.100.1", "10.1.1.1", 5, 6) + tlv(0x04, b"") + tlv(0x05, b"uid-42")
                             + tlv(0x20, b"\x01" + b"\0" * 4 + tlv(0x21, b"TLSv1.3"))),
     (2, "PROXY", "IPv4", "198.51.100.1", 5, "10.1.1.1", 6)),
    ("v2 inet6 with a long TLV", v2(family=2, body=inet6("::2", "::3", 7, 8) + tlv(0xE0, b"x" * 3000)),
     (2, "PROXY", "IPv6", "::2", 7, "::3", 8)),
]

# (name, bytes, what the error says): each is rejected, whole or in pieces
INVALID = [
    ("http instead", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a PROXY protocol header"),
    ("v1 lower case", b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY protocol header"),
    ("v1 bad start", b"PROXYY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 header start"),
    ("v1 too long", b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n", "longer than 107"),
    ("v1 no CR", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "CRLF"),
    ("v1 bare CR inside", b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", "CRLF"),
    ("v1 family", b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 header"),
    ("v1 missing port", b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "bad v1 header"),
    ("v1 double space", b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 header"),
    ("v1 v6 in tcp4", b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "bad v1 IPv4 address"),
    ("v1 bad v6", b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "bad v1 IPv6 address"),
    ("v1 port range", b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "bad v1 port"),
    ("v1 port leading zero", b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "bad v1 port"),
    ("v1 port sign", b"PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", "bad v1 port"),
    ("v1 non ascii", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \xff\r\n", "not ASCII"),
    ("v2 bad signature", b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + b"\0" * 12, "bad v2 signature"),
    ("v2 version 1", SIG + b"\x11\x11\x00\x0c" + b"\0" * 12, "bad v2 version"),
    ("v2 command 2", SIG + b"\x22\x11\x00\x0c" + b"\0" * 12, "bad v2 command"),
    ("v2 family 4", v2(family=4, body=b"\0" * 12), "bad v2 family"),
    ("v2 transport 3", v2(transport=3, body=b"\0" * 12), "bad v2 family"),
    ("v2 inet without transport", v2(transport=0, body=inet4("1.2.3.4", "5.6.7.8", 1, 2)), "bad v2 family"),
    ("v2 unspec family over stream", v2(family=0, transport=1), "bad v2 family"),
    ("v2 inet too short", v2(body=b"\0" * 11), "too short"),
    ("v2 inet6 too short", v2(family=2, body=b"\0" * 35), "too short"),
    ("v2 unix too short", v2(family=3, body=b"\0" * 215), "too short"),
]


def header_fields(header):
    return (header.version, header.command, header.family, header.source_address, header.source_port,
            header.destination_address, header.destination_port)


def feed_in_pieces(data, sizes):
    """Feed ``data`` in pieces of the given sizes (peeking as the server does: each piece
    followed by everything after it) and return (header, bytes consumed)."""
    parser = proxy.HeaderParser()
    consumed = 0
    arrived = 0
    for size in sizes:
        arrived = min(len(data), arrived + size)
        while parser.header is None and consumed < arrived:
            window = data[consumed:min(arrived, consumed + parser.wanted)]
            used = parser.feed(window)
            assert 0 < used <= len(window)
            consumed += used
        if parser.header is not None:
            break
    return parser.header, consumed


def splits(length, rng):
    sizes = []
    while sum(sizes) < length:
        sizes.append(rng.randint(1, 9))
    return sizes


REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


# -- the parser -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, data, expected", VALID, ids=[v[0] for v in VALID])
def test_valid_headers_whole_bytewise_and_split_never_consume_what_follows(name, data, expected):
    stream = data + REQUEST
    header, used = proxy.parse(stream)
    assert header_fields(header) == expected and used == len(data)
    header, used = feed_in_pieces(stream, [1] * len(stream))
    assert header_fields(header) == expected and used == len(data)
    rng = random.Random(f"{name}")
    for _ in range(20):
        header, used = feed_in_pieces(stream, splits(len(stream), rng))
        assert header_fields(header) == expected and used == len(data)


@pytest.mark.parametrize("name, data, message", INVALID, ids=[v[0] for v in INVALID])
def test_invalid_headers_are_rejected_whole_and_bytewise(name, data, message):
    with pytest.raises(proxy.ProxyProtocolError, match=message):
        proxy.parse(data)
    with pytest.raises(proxy.ProxyProtocolError):
        feed_in_pieces(data + REQUEST, [1] * (len(data) + len(REQUEST)))


@pytest.mark.parametrize("length, valid", [(106, True), (107, True), (108, False)])
def test_the_v1_line_limit_is_107_bytes(length, valid):
    line = b"PROXY UNKNOWN " + b"x" * (length - 16) + b"\r\n"
    assert len(line) == length
    if valid:
        assert proxy.parse(line + REQUEST)[1] == length
        assert feed_in_pieces(line + REQUEST, [1] * len(line))[1] == length
    else:
        with pytest.raises(proxy.ProxyProtocolError, match="longer than 107"):
            proxy.parse(line)


def test_a_v2_header_of_the_greatest_length_is_read_whole():
    body = inet4("192.0.2.1", "192.0.2.2", 1, 2) + tlv(0xEE, b"z" * (65535 - 12 - 3))
    data = v2(body=body)
    assert len(data) == 16 + 65535
    header, used = proxy.parse(data + REQUEST)
    assert used == len(data) and header.source_address == "192.0.2.1"
    with pytest.raises(proxy.ProxyProtocolError, match="truncated"):
        proxy.parse(data[:-1])


def test_a_truncated_header_is_incomplete_never_a_header():
    for _, data, _ in VALID:
        for cut in (1, len(data) // 2, len(data) - 1):
            parser = proxy.HeaderParser()
            assert parser.feed(data[:cut]) == cut
            assert parser.header is None
            with pytest.raises(proxy.ProxyProtocolError, match="truncated"):
                proxy.parse(data[:cut])


def test_wrong_bytes_are_refused_at_the_first_byte_that_cannot_fit():
    parser = proxy.HeaderParser()
    with pytest.raises(proxy.ProxyProtocolError):
        parser.feed(b"G")
    parser = proxy.HeaderParser()
    parser.feed(b"PRO")
    with pytest.raises(proxy.ProxyProtocolError):
        parser.feed(b"Z")
    parser = proxy.HeaderParser()
    parser.feed(SIG[:5])
    with pytest.raises(proxy.ProxyProtocolError):
        parser.feed(b"X")


def test_wanted_is_bounded_by_the_header_length():
    parser = proxy.HeaderParser()
    assert parser.wanted == 107
    parser.feed(b"PR")
    assert parser.wanted == 105
    parser = proxy.HeaderParser()
    parser.feed(SIG[:10])
    assert parser.wanted == 97  # the v2 length is not known yet
    parser = proxy.HeaderParser()
    data = v2(body=inet4("1.2.3.4", "5.6.7.8", 1, 2) + tlv(1, b"h2"))
    parser.feed(data[:16])
    assert parser.wanted == len(data) - 16
    assert parser.feed(data[16:] + b"GET") == len(data) - 16


def test_peer_is_the_client_only_for_proxied_tcp():
    assert proxy.parse(VALID[0][1])[0].peer == ("IPv4", "192.0.2.10", 56324)
    assert proxy.parse(VALID[5][1])[0].peer == ("IPv4", "203.0.113.9", 40000)
    for name, data, _ in VALID:
        if name in ("v1 unknown", "v2 unix", "v2 local", "v2 unspec", "v2 local with addresses"):
            assert proxy.parse(data)[0].peer is None, name


@pytest.mark.parametrize("entries, peer, allowed", [
    (["127.0.0.1"], ("127.0.0.1", 1), True),
    (["127.0.0.1"], ("127.0.0.2", 1), False),
    (["10.0.0.0/8"], ("10.213.4.1", 1), True),
    (["10.0.0.0/8"], ("11.0.0.1", 1), False),
    (["::1"], ("::1", 1, 0, 0), True),
    (["10.0.0.0/8"], ("::ffff:10.1.2.3", 1, 0, 0), True),
    (["*"], ("192.0.2.1", 1), True),
    (["unix"], "", True),
    (["127.0.0.1"], "", False),
])
def test_trusted_sources(entries, peer, allowed):
    assert proxy.TrustedSources(entries).allows(peer) is allowed


# -- the header step on real sockets ---------------------------------------------------------------
class ProxiedServer:
    """A Server with a PROXY listener (and a plain one) on a loop thread."""

    def __init__(self, **options):
        self.loop = new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))
        self.server = prefork.create_server(self.on_request, loop=self.loop, **options)
        self.server.listen(0, proxy_protocol=True)
        self.port = self.server.address()["port"]
        plain = socket.socket()
        plain.bind(("127.0.0.1", 0))
        plain.listen(16)
        self.plain_port = plain.getsockname()[1]
        self.server.listen(sock=plain)
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def on_request(self, req, res):
        sock = req.socket
        res.end(f"{sock.remote_family} {sock.remote_address} {sock.remote_port}")

    def call(self, fn):
        done, box = threading.Event(), []
        self.loop.call_soon_threadsafe(lambda: (box.append(fn()), done.set()))
        assert done.wait(5)
        return box[0]

    def errors(self):
        return self.call(lambda: dict(self.server.stats.proxy_errors))

    def stop(self):
        def shutdown():
            self.server.close_all_connections()
            self.server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(shutdown)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def proxied():
    started = []

    def start(**options):
        server = ProxiedServer(**options)
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


def rx_queue(local_port, remote_port):
    """Bytes waiting in the kernel for the server's end of a loopback connection."""
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
                return int(fields[4].split(":")[1], 16)
    return None


def ask(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_close(sock)


CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("header, expected", [
    (b"PROXY TCP4 192.0.2.10 198.51.100.7 56324 80\r\n", b"IPv4 192.0.2.10 56324"),
    (b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n", b"IPv6 2001:db8::1 4000"),
    (v2(body=inet4("203.0.113.9", "10.0.0.1", 40000, 8080) + tlv(5, b"id")), b"IPv4 203.0.113.9 40000"),
    (v2(family=2, body=inet6("2001:db8::9", "::1", 1, 2)), b"IPv6 2001:db8::9 1"),
])
def test_the_request_sees_the_client_the_header_names(proxied, header, expected):
    server = proxied()
    response = ask(server.port, header + CLOSE)  # header and request in one segment
    assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(expected), response
    assert server.errors() == {}


@pytest.mark.parametrize("header", [b"PROXY UNKNOWN\r\n", v2(command=0, family=0, transport=0),
                                    v2(family=3, body=UNIX_BODY)])
def test_local_unknown_and_unix_keep_the_connections_own_address(proxied, header):
    server = proxied()
    response = ask(server.port, header + CLOSE)
    assert re.search(rb"\r\n\r\nIPv4 127\.0\.0\.1 \d+$", response), response


@pytest.mark.parametrize("header, cuts", [
    # inside the signature, inside the fixed part, inside the addresses, inside a TLV
    (v2(body=inet4("198.51.100.20", "10.0.0.1", 1234, 80) + tlv(0xE0, b"y" * 200)), (5, 14, 20, 100)),
    # inside "PROXY", inside an address, between CR and LF
    (b"PROXY TCP4 198.51.100.20 10.0.0.1 1234 80\r\n", (3, 15, 42)),
])
def test_a_header_split_across_reads_is_put_together(proxied, header, cuts):
    server = proxied(proxy_protocol_timeout=60.0)  # /proc/net/tcp reads are slow on a busy machine
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine = sock.getsockname()[1]
        for start, end in zip((0,) + cuts, cuts + (len(header),)):
            sock.sendall(header[start:end])
            # the server has read this piece before the next is sent: separate reads
            wait_until(lambda: rx_queue(server.port, mine) == 0, 20, what="the piece read")
        sock.sendall(CLOSE)
        response = read_until_close(sock)
    assert response.endswith(b"IPv4 198.51.100.20 1234"), response


def test_pipelined_requests_after_the_header_are_all_served(proxied):
    server = proxied()
    keep = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    response = ask(server.port, b"PROXY TCP4 192.0.2.1 192.0.2.2 7 8\r\n" + keep * 3 + CLOSE)
    assert response.count(b"HTTP/1.1 200 OK") == 4
    assert response.count(b"IPv4 192.0.2.1 7") == 4


@pytest.mark.parametrize("data", [CLOSE, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n" + CLOSE,
                                  b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x01x" + CLOSE])
def test_a_connection_without_a_valid_header_is_closed_unanswered_and_counted(proxied, data):
    server = proxied()
    assert ask(server.port, data) == b""
    wait_until(lambda: server.errors() == {"invalid": 1}, 5, what="the error counted")
    assert server.call(lambda: server.server.connections) == 0
    # the plain listener of the same server is not affected
    assert re.search(rb"^HTTP/1\.1 200 OK.*\r\n\r\nIPv4 127\.0\.0\.1 \d+$", ask(server.plain_port, CLOSE), re.S)


def test_a_header_that_does_not_come_in_time_closes_the_connection(proxied):
    server = proxied(proxy_protocol_timeout=0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(b"PROXY TCP4 1.2.3.4")
        assert read_until_close(sock) == b""
        assert time.monotonic() - start >= 0.29
    assert server.errors() == {"timeout": 1}
    assert server.call(lambda: server.server.connections) == 0


def test_a_peer_outside_the_trusted_sources_is_refused_before_reading(proxied):
    server = proxied(proxy_allow_ips=("10.9.9.9",))
    assert ask(server.port, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" + CLOSE) == b""
    assert server.errors() == {"untrusted": 1}
    assert server.call(lambda: server.server.connections) == 0
    trusting = proxied(proxy_allow_ips=("127.0.0.0/8",))
    assert ask(trusting.port, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" + CLOSE).endswith(b"IPv4 1.2.3.4 1")


def test_a_client_that_closes_before_its_header_is_counted_as_closed(proxied):
    server = proxied()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"PROXY TCP")
    wait_until(lambda: server.errors() == {"closed": 1}, 5, what="the close counted")
    assert server.call(lambda: server.server.connections) == 0


def test_drain_waits_for_a_pending_header_and_answers_with_connection_close(proxied):
    server = proxied(proxy_protocol_timeout=60.0)
    closed = threading.Event()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"PROXY TCP4 192.0.2.5 ")
        mine = sock.getsockname()[1]
        wait_until(lambda: rx_queue(server.port, mine) == 0, 20, what="the first piece read")
        server.call(lambda: server.server.drain(lambda err: closed.set()))
        assert not closed.is_set()  # set synchronously if the pending header were forgotten
        sock.sendall(b"192.0.2.6 10 20\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        response = read_until_close(sock)
    assert b"Connection: close" in response and response.endswith(b"IPv4 192.0.2.5 10")
    assert closed.wait(5)


# -- HAProxy in front of a real daemon ---------------------------------------------------------------
@pytest.fixture(scope="module")
def haproxy_path():
    path, why = haproxy.binary()
    if path is None:
        pytest.skip(why)
    return path


def front(haproxy_path, tmp, daemon_port):
    """HAProxy on two sockets bound here: one backend with send-proxy, one with send-proxy-v2."""
    socks = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        socks.append(sock)
    config = f"""global
    stats socket @STATS@ mode 600 level admin
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend v1
    bind fd@{socks[0].fileno()}
    default_backend v1
frontend v2
    bind fd@{socks[1].fileno()}
    default_backend v2
backend v1
    server app 127.0.0.1:{daemon_port} send-proxy
backend v2
    server app 127.0.0.1:{daemon_port} send-proxy-v2
"""
    proc = haproxy.HAProxy(haproxy_path, tmp, config, pass_fds=[s.fileno() for s in socks])
    ports = [s.getsockname()[1] for s in socks]
    for sock in socks:
        sock.close()
    return proc, ports


def from_client_address(port, path="/", source="127.0.0.2"):
    """A request from ``source`` (another loopback address than HAProxy's own)."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    client_port = sock.getsockname()[1]
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return client_port, read_until_close(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("interface, app", [("events", "apps.fleet:v1"), ("wsgi", "apps.fleet:wsgi")])
def test_haproxy_send_proxy_v1_and_v2_reach_the_app_and_the_access_log(haproxy_path, tmp_path, interface, app):
    access = tmp_path / "access.log"
    daemon = Daemon("--interface", interface, "--proxy-protocol", "--access-log", str(access),
                    "--access-log-flush", "0", app=app, workers=1)
    lb = None
    try:
        daemon.wait_ready()
        lb, (v1_port, v2_port) = front(haproxy_path, str(tmp_path), daemon.port)
        seen = []
        for port in (v1_port, v2_port):
            client_port, response = from_client_address(port, f"/{port}")
            assert response.startswith(b"HTTP/1.1 200 OK"), response
            assert f"client=127.0.0.2:{client_port}".encode() in response, response
            seen.append(client_port)
        lines = wait_until(lambda: [l for l in access.read_text().splitlines() if "GET /" in l]
                           if access.exists() and access.read_text().count("\n") >= 2 else None,
                           10, what="two access log lines")
        assert all(line.startswith("127.0.0.2 - - [") for line in lines), lines
        # a client that skips the balancer is refused and counted
        assert daemon.request("/") == b""
        wait_until(lambda: daemon.scrape().get(("prefork_proxy_protocol_errors_total", (("reason", "invalid"),)))
                   == 1.0, 10, what="the invalid header counted")
        stats = lb.stats()
        assert int(stats[("v1", "app")]["stot"]) >= 1 and int(stats[("v2", "app")]["stot"]) >= 1
    finally:
        if lb is not None:
            lb.stop()
        daemon.cleanup()


def test_proxy_protocol_bind_turns_it_on_for_one_listener_only(haproxy_path, tmp_path):
    daemon = Daemon("--bind", "127.0.0.1:0", "--proxy-protocol-bind", "127.0.0.1:0", app="apps.fleet:v1",
                    workers=1, bind_socket=False)
    lb = None
    try:
        daemon.wait_ready()
        # Daemon(bind_socket=False): the one bound address is in the log
        port = int(re.search(r"listening at 127\.0\.0\.1:(\d+) \(127\.0\.0\.1:0\): PROXY header first\n",
                             daemon.log()).group(1))
        lb, (v1_port, _) = front(haproxy_path, str(tmp_path), port)
        client_port, response = from_client_address(v1_port)
        assert f"client=127.0.0.2:{client_port}".encode() in response, response
        assert ask(port, CLOSE) == b""
    finally:
        if lb is not None:
            lb.stop()
        daemon.cleanup()


def test_bad_proxy_settings_are_reported_with_their_source():
    import subprocess
    import sys
    from daemon import python_env
    result = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--proxy-allow-ips", "10.0.0.0/33"],
                            capture_output=True, text=True, env=python_env(PREFORK_PROXY_PROTOCOL="maybe"), timeout=30)
    assert result.returncode == 2
    assert "argv:--proxy-allow-ips: '10.0.0.0/33' is not an IP address, a network (CIDR), * or unix" in result.stderr
    assert "env:PREFORK_PROXY_PROTOCOL: expected true or false, got 'maybe'" in result.stderr
    result = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--bind", "127.0.0.1:8000",
                             "--proxy-protocol-bind", "127.0.0.1:9000"], capture_output=True, text=True,
                            env=python_env(), timeout=30)
    assert result.returncode == 2
    assert "argv:--proxy-protocol-bind: 127.0.0.1:9000 is not one of the bind addresses" in result.stderr


# -- any bytes -------------------------------------------------------------------------------------------
from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402


@hsettings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.builds(lambda tail: b"PROXY " + tail, st.binary(max_size=120)),
                 st.builds(lambda tail: SIG + tail, st.binary(max_size=300))),
       st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_any_bytes_give_a_header_an_error_or_a_wish_for_more_and_never_overread(data, sizes):
    parser = proxy.HeaderParser()
    consumed = 0
    try:
        for size in sizes:
            if parser.header is not None or consumed >= len(data):
                break
            wanted = parser.wanted
            assert wanted >= 1
            window = data[consumed:consumed + min(wanted, size)]
            used = parser.feed(window)
            assert 0 < used <= len(window)
            consumed += used
    except proxy.ProxyProtocolError:
        return
    if parser.header is not None:
        header, used = proxy.parse(data)
        assert used == consumed and header_fields(header) == header_fields(parser.header)
