"""One ``ServerTLS`` given to two servers, each on its own loop in its own thread of one
process (an application that embeds ``create_server`` twice with the same TLS
settings): their connections' records are decrypted into a buffer of each thread, so
every request body reaches its own server whole while both read at once
(``SSLObject.read`` lets go of the GIL: a buffer of the ``ServerTLS`` itself would be
written by both threads at once and mix their plaintexts)."""

import hashlib
import socket
import threading

import test_hostile_net_tls
from test_hostile_net_tls import client_context, connect
from test_review_new_tls_threads import UPLOAD, digest_server

pki = test_hostile_net_tls.pki  # (the fixture: the CA, the server's certificate and key)


def test_one_server_tls_on_two_threads_never_mixes_their_plaintext(serve, pki):
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key}))
    ports = []
    for _ in range(2):
        st = serve(digest_server)
        listener = socket.create_server(("127.0.0.1", 0))
        st.call(lambda st=st, listener=listener: st.server.listen(sock=listener, tls=tls))
        ports.append(listener.getsockname()[1])
    wrong = []

    def client(n):
        body = bytes([65 + n % 26]) * UPLOAD
        want = hashlib.sha256(body).hexdigest().encode()
        for _ in range(3):
            with connect(ports[n % 2], client_context(pki)) as sock:
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
        thread.join(60)
    assert not any(thread.is_alive() for thread in clients)
    assert not wrong, f"{len(wrong)} of 24 bodies reached their server changed: {wrong[:2]}"
