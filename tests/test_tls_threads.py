"""Two servers with TLS listeners, each on its own loop in its own thread of one process
(as an application embedding ``create_server`` twice, or this test suite, runs them),
read at the same time: every request body reaches its own server whole. Records were
decrypted into one buffer per process, and ``SSLObject.read`` lets go of the GIL, so the
two loops wrote into it at once and mixed the plaintexts of their connections."""

import hashlib
import threading

from test_hostile_net_tls import client_context, connect, pki, tls_listener  # noqa: F401

UPLOAD = 4 * 1024 * 1024


def digest_server(server, _st):
    def on_request(req, res):
        digest = hashlib.sha256()
        req.on("data", digest.update)
        req.on("end", lambda: res.end(digest.hexdigest().encode()))
    server.on("request", on_request)


def test_two_servers_on_two_threads_never_mix_their_connections_plaintext(serve, pki):  # noqa: F811
    ports = [tls_listener(serve(digest_server), pki) for _ in range(2)]
    assert_uploads_reach_their_servers(ports, pki)


def assert_uploads_reach_their_servers(ports, authority, seconds=30):
    """Eight clients, three uploads each, spread over ``ports``: each server answers the
    digest of the very body its client sent."""
    wrong = []

    def client(n):
        body = bytes([65 + n % 26]) * UPLOAD
        want = hashlib.sha256(body).hexdigest().encode()
        for _ in range(3):
            with connect(ports[n % 2], client_context(authority)) as sock:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                             % UPLOAD + body)
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            if not (data.startswith(b"HTTP/1.1 200 OK") and data.endswith(want)):
                wrong.append((n, data[-100:]))

    clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(seconds)
    assert not any(thread.is_alive() for thread in clients)
    assert not wrong, f"{len(wrong)} of 24 bodies reached their server changed: {wrong[:2]}"
