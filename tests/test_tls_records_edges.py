"""Records after the handshake: several in one read come out whole and in order (the TLS
layer decrypts each into one shared buffer and copies it out before the next), a
TLS 1.3 key update the client requests is answered before the next response, and the
connection serves on after it; a plain connection beside TLS ones is untouched."""

import hashlib
import os
import select
import shutil
import socket
import subprocess
import time

import pytest

from debian import ensure
from test_hostile_net_tls import BioClient, client_context, pki, tls_listener  # noqa: F401


def digest_server(server, st):
    """Answers each request with its body's length and SHA-256."""
    def on_request(req, res):
        parts = []
        req.on("data", parts.append)
        req.on("end", lambda: res.end(f"{sum(map(len, parts))} {hashlib.sha256(b''.join(parts)).hexdigest()}"
                                      .encode()))
    server.on("request", on_request)


def post(body, close=False):
    return (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (len(body), b"Connection: close\r\n"
                                                                            if close else b"")) + body


def test_many_records_in_one_read_are_each_decrypted_whole_and_in_order(serve, pki):  # noqa: F811
    st = serve(digest_server)
    port = tls_listener(st, pki)
    client = BioClient(port, client_context(pki)).handshake()
    bodies = [os.urandom(size) for size in (1, 16384, 5000, 16384 * 3 + 7)]
    wire = b""
    for i, body in enumerate(bodies):  # each request written alone: its own records
        wire += client.records(post(body, close=i == len(bodies) - 1))
    try:
        client.raw.sendall(wire)  # in as few segments as the kernel makes of them
        answer = client.read_until_end()
    finally:
        client.close()
    expected = [f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode() for body in bodies]
    got = [part.rsplit(b"\r\n\r\n", 1)[-1] for part in answer.split(b"HTTP/1.1 200 OK")[1:]]
    got = [g[:len(e)] for g, e in zip(got, expected)]
    assert got == expected, answer[-300:]


def test_a_key_update_the_client_requests_is_answered_and_the_connection_serves_on(serve, pki):  # noqa: F811
    path, why = ensure("openssl", "openssl")
    if path is None or shutil.which("stdbuf") is None:
        pytest.skip(why or "no stdbuf (coreutils) to read s_client's output as it comes")
    st = serve(digest_server)
    port = tls_listener(st, pki)
    proc = subprocess.Popen(["stdbuf", "-o0", path, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-msg",
                             "-crlf", "-CAfile", pki.ca, "-servername", "localhost"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""

    def wait_for(marker, timeout=4, count=1):
        nonlocal out
        deadline = time.monotonic() + timeout
        while out.count(marker) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {out[-1500:]!r}"
            if select.select([proc.stdout], [], [], left)[0]:
                chunk = os.read(proc.stdout.fileno(), 65536)
                assert chunk, f"s_client ended before {marker!r}: {out[-1500:]!r}"
                out += chunk
    try:
        wait_for(b"NewSessionTicket", count=2)  # the handshake and what follows it are over
        proc.stdin.write(b"K\n")  # s_client's command: a KeyUpdate asking for the server's
        proc.stdin.flush()
        wait_for(b">>> TLS 1.3, Handshake [length 0005], KeyUpdate")
        proc.stdin.write(b"GET / HTTP/1.1\nHost: x\n\n")
        proc.stdin.flush()
        wait_for(b"0 " + hashlib.sha256(b"").hexdigest().encode())
    finally:
        proc.kill()
        proc.wait()
    # OpenSSL answers with the next record it writes (RFC 8446 4.6.3: before any more
    # application data), so the server's KeyUpdate comes just before the response
    answer = out.index(b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate")
    assert answer < out.index(b"HTTP/1.1 200 OK"), out[-1500:]


def test_plain_sockets_are_untouched_by_the_shared_buffer(serve, pki):  # noqa: F811
    """A TLS connection and a plain one interleaved on the same loop."""
    st = serve(digest_server)
    port = tls_listener(st, pki)
    body_a, body_b = os.urandom(20000), os.urandom(30000)
    with client_context(pki).wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                         server_hostname="localhost") as secure, \
            socket.create_connection(("127.0.0.1", st.port), timeout=5) as plain:
        secure.sendall(post(body_a, close=True)[:10000])
        plain.sendall(post(body_b, close=True))
        secure.sendall(post(body_a, close=True)[10000:])
        answers = []
        for sock in (secure, plain):
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            answers.append(data.rsplit(b"\r\n\r\n", 1)[-1])
    assert answers == [f"{len(b)} {hashlib.sha256(b).hexdigest()}".encode() for b in (body_a, body_b)]
