"""What the WSGI adapter keeps of a connection, and where.

CPython 3.11 keeps at most 29 attribute names of a class's instances in its compact
layout; a socket given more gets a dict of its own, and each method of it the server
looks up on every request (cork, uncork, send) is then looked up the slow way. The
adapter sets ``turn_holds`` on each socket (its writes are not held to the next turn)
and nothing else: its per-connection environ base is not kept through a 'close'
listener on the socket, and the local address is read only for a request whose
``Host`` does not name the server. The base goes all the same once the connection is
closed, freed by reference counting."""

import gc
import socket
import time

import pytest

from prefork.wsgi import WSGIAdapter

REQUEST = b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"


def app(environ, start_response):
    body = f"{environ['SERVER_NAME']} {environ['SERVER_PORT']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def exchange(port, requests):
    """The bodies of the answers to ``requests``, sent one at a time on one connection."""
    bodies = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        data = b""
        for request in requests:
            client.sendall(request)
            while True:
                head, sep, rest = data.partition(b"\r\n\r\n")
                if sep:
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length:")))
                    if len(rest) >= length:
                        bodies.append(rest[:length].decode())
                        data = rest[length:]
                        break
                chunk = client.recv(65536)
                assert chunk, "closed before the answer"
                data += chunk
    return bodies


def served_socket_names(serve, setup):
    """The instance attribute names of the server's socket after two keep-alive
    requests, taken while the client still holds the connection."""
    sockets = []

    def on_connection(sock):
        sockets.append(sock)

    def with_capture(server, st):
        setup(server, st)
        server.on("connection", on_connection)
    st = serve(with_capture)
    client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    try:
        for _ in range(2):
            client.sendall(REQUEST)
            data = b""
            while b"example.test" not in data and b"hello" not in data:
                chunk = client.recv(65536)
                assert chunk
                data += chunk
        st.call(lambda: None)  # (the answer's end done on the loop)
        return st.call(lambda: set(vars(sockets[0])))
    finally:
        client.close()


@pytest.mark.parametrize("threads", [1, 4])
def test_the_adapter_sets_no_socket_attribute_but_turn_holds(serve, threads):
    events = served_socket_names(serve, lambda server, st: server.on("request", lambda req, res: res.end(b"hello")))
    wsgi = served_socket_names(serve, lambda server, st: WSGIAdapter(app, threads=threads).setup(server))
    assert wsgi - events == {"turn_holds"}, sorted(wsgi - events)
    assert len(wsgi) <= 29, sorted(wsgi)  # (CPython 3.11's compact layout)


def test_server_name_without_a_host_is_the_local_address_after_one_with_a_host(serve):
    st = serve(lambda server, st: WSGIAdapter(app).setup(server))
    answers = exchange(st.port, [REQUEST, b"GET / HTTP/1.1\r\nHost: h:abc\r\n\r\n", REQUEST,
                                 b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"])
    local = f"127.0.0.1 {st.port}"
    assert answers == ["example.test 80", local, "example.test 80", local]


def test_a_closed_connection_s_environ_base_is_freed_without_the_collector(serve):
    holder = {}

    def setup(server, st):
        holder["adapter"] = WSGIAdapter(app)
        holder["adapter"].setup(server)
    st = serve(setup)
    connections = holder["adapter"].environs.connections
    gc.disable()  # (freed by reference counting alone)
    try:
        for _ in range(5):
            assert exchange(st.port, [REQUEST, REQUEST]) == ["example.test 80"] * 2
        deadline = time.monotonic() + 5
        while st.call(lambda: len(connections)) and time.monotonic() < deadline:
            time.sleep(0.02)
        left = st.call(lambda: len(connections))
    finally:
        gc.enable()
    assert left == 0, f"{left} closed connections' bases kept"
