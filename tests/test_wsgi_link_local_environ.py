"""A link-local peer's address in the WSGI environ has no zone, as gunicorn gives it
(``getpeername()``'s host): ``REMOTE_ADDR`` and a ``SERVER_NAME`` from the local address
are ``fe80::...``, while the socket itself names the zone as Node does (``fe80::...%eth0``,
test_net_link_local_zone), as the ASGI scope does (test_asgi_link_local_scope)."""

import socket
import threading

import prefork
from prefork.runtime import new_event_loop
from prefork.wsgi import WSGIAdapter
from test_net_link_local_zone import link_local


def test_remote_addr_and_server_name_name_a_link_local_address_without_its_zone():
    host = link_local()
    seen = []

    def app(environ, start_response):
        seen.append((environ["REMOTE_ADDR"], environ["REMOTE_PORT"], environ["SERVER_NAME"], environ["SERVER_PORT"]))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    loop = new_event_loop()
    server = prefork.create_server(loop=loop)
    WSGIAdapter(app).setup(server)
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
            # HTTP/1.0 without Host: SERVER_NAME is the local address
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := client.recv(4096):
                reply += chunk
            mine = client.getsockname()
    finally:
        loop.call_soon_threadsafe(lambda: (server.close_all_connections(), server.close(), loop.stop()))
        thread.join(5)
        loop.close()
    assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200"), reply
    bare = host.partition("%")[0]
    assert seen == [(bare, str(mine[1]), bare, str(port))]
