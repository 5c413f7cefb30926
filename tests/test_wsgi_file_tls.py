"""``wsgi.file_wrapper`` on a TLS listener: the file goes out encrypted. With
``threads = 1`` a plain connection sends it with ``os.sendfile``, which writes the
file's bytes to the socket as they are; over TLS that put them on the wire in the clear
(the client saw a bad record and no body, the access log a 200)."""

import os
import socket
import ssl

import pytest

from daemon import Daemon
from test_hostile_net_tls import client_context, pki  # noqa: F401  (pki: a fixture)

MARKER = b"plaintext-marker-"
BODY = (MARKER + b"0123456789abcdef" * 64) * 256  # 276 KiB: more than one send


def app(environ, start_response):
    path = os.path.join(os.getcwd(), "file-tls.bin")
    if not os.path.exists(path):
        with open(path + ".part", "wb") as fh:
            fh.write(BODY)
        os.replace(path + ".part", path)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](open(path, "rb"))


@pytest.fixture(scope="module", params=[1, 4], ids=["loop", "threads"])
def d(request, pki):  # noqa: F811
    daemon = Daemon("--interface", "wsgi", "--threads", str(request.param), "--certfile", pki.cert,
                    "--keyfile", pki.key, app="test_wsgi_file_tls:app", workers=1)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.cleanup()
        leftover = os.path.join(daemon.tmp, "file-tls.bin")
        if os.path.exists(leftover):
            os.unlink(leftover)


def fetch_over_tls(port, context):
    """GET / over TLS run through memory BIOs: (the plaintext received, every raw byte
    read from the wire), so the test sees what a sniffer on the path would."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    wire, plain = [], []
    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    handshaken = False
    try:
        while True:
            try:
                if not handshaken:
                    tls.do_handshake()
                    handshaken = True
                    tls.write(request)
                while True:
                    got = tls.read(65536)
                    if not got:
                        raise ssl.SSLZeroReturnError
                    plain.append(got)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                break
            if outgoing.pending:
                raw.sendall(outgoing.read())
            chunk = raw.recv(65536)
            if not chunk:
                break
            wire.append(chunk)
            incoming.write(chunk)
    finally:
        raw.close()
    return b"".join(plain), b"".join(wire)


def test_a_file_wrapper_goes_out_encrypted(d, pki):  # noqa: F811
    data, wire = fetch_over_tls(d.port, client_context(pki))
    assert MARKER not in wire  # nothing of the file in the clear
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    if b"\r\ntransfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    assert body == BODY


def dechunk(data):
    out = []
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[:size])
        assert data[size:size + 2] == b"\r\n"
        data = data[size + 2:]
