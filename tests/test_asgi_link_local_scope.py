"""A link-local peer's address in the ASGI scope has no zone, as uvicorn gives it
(``getpeername()``'s host): ``client`` and ``server`` are ``fe80::...``, while the
socket itself names the zone as Node does (``fe80::...%eth0``, test_net_link_local_zone)."""

import socket
import threading

import prefork
from prefork.asgi import ASGIAdapter
from prefork.runtime import new_event_loop
from test_net_link_local_zone import link_local


def test_client_and_server_in_the_scope_name_a_link_local_address_without_its_zone():
    host = link_local()
    scopes = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        scopes.append((scope["client"], scope["server"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    loop = new_event_loop()
    server = prefork.create_server(loop=loop)
    ASGIAdapter(app, lifespan="off").setup(server)
    ready = threading.Event()
    server.listen(0, host, ready.set)
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        assert ready.wait(5)
        port = server.address()["port"]
        address = socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_STREAM)[0][4]
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(address)
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := client.recv(4096):
                reply += chunk
            mine = client.getsockname()
    finally:
        loop.call_soon_threadsafe(lambda: (server.close_all_connections(), server.close(), loop.stop()))
        thread.join(5)
        loop.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply
    bare = host.partition("%")[0]
    assert scopes == [((bare, mine[1]), (bare, port))]
