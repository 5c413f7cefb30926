"""A link-local peer's address in the ASGI scope has no zone, as uvicorn gives it
(``getpeername()``'s host): ``client`` and ``server`` are ``fe80::...``, while the
socket itself names the zone as Node does (``fe80::...%eth0``, test_net_link_local_zone)."""

from prefork.asgi import ASGIAdapter
from test_net_link_local_zone import exchange_on_link_local


def test_client_and_server_in_the_scope_name_a_link_local_address_without_its_zone():
    scopes = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        scopes.append((scope["client"], scope["server"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    host, reply, mine, port = exchange_on_link_local(
        lambda server: ASGIAdapter(app, lifespan="off").setup(server),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200"), reply
    bare = host.partition("%")[0]
    assert scopes == [((bare, mine), (bare, port))]
