"""``socket.server`` is the server that accepted the connection (Node's ``socket.server``,
read by handlers that reach the server through ``req.socket``), and None on a client's
socket, as in Node."""

import socket

import prefork
from harness import read_until_close
from prefork.runtime import new_event_loop


def test_a_connection_socket_names_its_server_and_a_client_socket_none(serve):
    seen = {}

    def setup(server, st):
        def on_request(req, res):
            seen["same"] = req.socket.server is server
            res.end("ok")
        server.on("connection", lambda sock: seen.setdefault("at_connection", sock.server is server))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).endswith(b"ok")
    assert seen == {"at_connection": True, "same": True}

    async def client_side():
        req = prefork.get(f"http://127.0.0.1:{st.port}/")
        sockets = []
        req.on("socket", sockets.append)
        res = await req
        await res.read()
        assert len(sockets) == 1
        return sockets[0].server
    loop = new_event_loop("asyncio")
    try:
        assert loop.run_until_complete(client_side()) is None
    finally:
        loop.close()
