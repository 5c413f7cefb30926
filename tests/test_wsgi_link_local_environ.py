"""A link-local peer's address in the WSGI environ has no zone, as gunicorn gives it
(``getpeername()``'s host): ``REMOTE_ADDR`` and a ``SERVER_NAME`` from the local address
are ``fe80::...``, while the socket itself names the zone as Node does (``fe80::...%eth0``,
test_net_link_local_zone), as the ASGI scope does (test_asgi_link_local_scope)."""

from prefork.wsgi import WSGIAdapter
from test_net_link_local_zone import exchange_on_link_local


def test_remote_addr_and_server_name_name_a_link_local_address_without_its_zone():
    seen = []

    def app(environ, start_response):
        seen.append((environ["REMOTE_ADDR"], environ["REMOTE_PORT"], environ["SERVER_NAME"], environ["SERVER_PORT"]))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    # HTTP/1.0 without Host: SERVER_NAME is the local address
    host, reply, mine, port = exchange_on_link_local(lambda server: WSGIAdapter(app).setup(server),
                                                     b"GET / HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200"), reply
    bare = host.partition("%")[0]
    assert seen == [(bare, str(mine), bare, str(port))]
