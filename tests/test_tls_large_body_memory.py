"""A large body over TLS costs no memory once sent, and little while a slow reader takes
it: it is encrypted in pieces as the kernel takes the records. Encrypted whole, a 32 MiB
body left each keep-alive connection holding 32 MiB (OpenSSL's outgoing memory BIO never
shrinks) until it closed, and twice that while a slow reader downloaded it."""

import hashlib
import socket

import pytest

from apps.tls_large_body import BIG
from daemon import Daemon, wait_until
from test_hostile_net_tls import client_context, pki  # noqa: F401  (pki: a fixture)

DIGEST = hashlib.sha256(BIG).hexdigest()
MIB = 1 << 20
INTERFACES = {
    "events": ("apps.tls_large_body:setup",),
    "wsgi": ("apps.tls_large_body:wsgi", "--interface", "wsgi", "--threads", "4"),  # (1: one client at a time)
    "asgi": ("apps.tls_large_body:asgi", "--interface", "asgi", "--lifespan", "off"),
}


@pytest.fixture(scope="module", params=sorted(INTERFACES))
def d(request, pki):  # noqa: F811
    app, *args = INTERFACES[request.param]
    daemon = Daemon(*args, "--certfile", pki.cert, "--keyfile", pki.key, app=app, workers=1)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.cleanup()


def rss(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024


def connect(d, pki):  # noqa: F811
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    return client_context(pki).wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)


def read_head(conn, buf=b""):
    while b"\r\n\r\n" not in buf:
        got = conn.recv(65536)
        assert got, "closed before the head"
        buf += got
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def read_body(conn, rest, length):
    h, got = hashlib.sha256(), 0
    h.update(rest[:length])
    got = len(rest[:length])
    extra = rest[length:]
    while got < length:
        chunk = conn.recv(min(1 << 20, length - got))
        assert chunk, f"closed after {got} of {length} bytes"
        h.update(chunk)
        got += len(chunk)
    return h.hexdigest(), extra


def get(conn, path="/big", version=b"1.1", buf=b""):
    conn.sendall(b"GET " + path.encode() + b" HTTP/" + version + b"\r\nHost: x\r\n\r\n")
    head, rest = read_head(conn, buf)
    length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
    return head, read_body(conn, rest, length)


def warm(d, pki):  # noqa: F811
    """One download first: what the worker keeps whatever the connections (the
    interpreter's and the allocator's own) is in the baseline."""
    with connect(d, pki) as conn:
        assert get(conn)[1][0] == DIGEST
    (worker,) = d.workers()
    return worker


def test_idle_keep_alive_connections_after_a_large_body_hold_no_copy_of_it(d, pki):  # noqa: F811
    worker = warm(d, pki)
    before = rss(worker)
    conns = [connect(d, pki) for _ in range(3)]
    try:
        for conn in conns:
            head, (digest, _) = get(conn)
            assert head.startswith(b"HTTP/1.1 200") and digest == DIGEST
        grown = rss(worker) - before
        assert grown < 20 * MIB, f"the worker grew {grown / MIB:.0f} MiB for 3 idle connections"
        for conn in conns:  # still kept alive, and serving
            assert get(conn, "/small")[1][0] == hashlib.sha256(b"small body\n").hexdigest()
    finally:
        for conn in conns:
            conn.close()


def stalled_reader(d, pki):  # noqa: F811
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    raw.settimeout(20)
    raw.connect(("127.0.0.1", d.port))
    conn = client_context(pki).wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    conn.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.0\r\nHost: x\r\n\r\n")
    return conn, read_head(conn)  # the response has started: the body is being written


def test_readers_that_stop_cost_a_bounded_amount_and_get_every_byte(d, pki):  # noqa: F811
    worker = warm(d, pki)
    before = rss(worker)
    readers = []
    try:
        for _ in range(3):
            readers.append(stalled_reader(d, pki))
            wait_until(lambda: stalled_count(d.port) == len(readers), 10, what="the server's send queues to fill")
        grown = rss(worker) - before
        assert grown < 20 * MIB, f"the worker grew {grown / MIB:.0f} MiB for 3 stalled readers"
        for conn, (head, rest) in readers:
            digest, extra = read_body(conn, rest, len(BIG))
            assert head.startswith(b"HTTP/1.1 200") and digest == DIGEST
            head, (digest, extra) = get_pipelined(conn, extra)
            assert head.startswith(b"HTTP/1.") and digest == DIGEST
            assert not extra and conn.recv(100) == b""  # HTTP/1.0: closed after it, close_notify first
    finally:
        for conn, _ in readers:
            conn.close()


def get_pipelined(conn, buf):
    head, rest = read_head(conn, buf)
    return head, read_body(conn, rest, len(BIG))


def stalled_count(port):
    """How many server ends of connections to ``port`` have records waiting in their
    kernel send queue (their reader stopped): the server wrote all it will until it reads."""
    with open("/proc/net/tcp") as fh:
        rows = [line.split() for line in fh.read().splitlines()[1:]]
    return sum(row[1].endswith(f":{port:04X}") and row[3] == "01" and int(row[4].split(":")[0], 16) > 32 * 1024
               for row in rows)
