"""One ``ServerTLS`` given to two servers, each on its own loop in its own thread of one
process (an application that embeds ``create_server`` twice with the same TLS
settings): their connections' records are decrypted into a buffer of each thread, so
every request body reaches its own server whole while both read at once
(``SSLObject.read`` lets go of the GIL: a buffer of the ``ServerTLS`` itself would be
written by both threads at once and mix their plaintexts)."""

import socket

import test_hostile_net_tls
from test_tls_threads import assert_uploads_reach_their_servers, digest_server

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
    assert_uploads_reach_their_servers(ports, pki, seconds=60)
