"""``wsgi.input`` read after its call is over (by a thread the app left behind, or kept
and read by a later request) raises ``OSError`` (EBADF), as ``write()`` does then and
as gunicorn's workers do: the app never takes the body's rest for an empty one, nor
waits for bytes that will never come to it.

Real loopback sockets; the server's loop runs in a thread of this process."""

import errno
import socket
import threading

from harness import read_until_close
from prefork.wsgi import WSGIAdapter

BODY = 1_000_000


def make_app():
    kept = {}

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/keep":
            kept["input"] = environ["wsgi.input"]  # not read: the call ends at once
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"kept"]
        said = []

        def read():
            try:
                said.append("read %d bytes" % len(kept["input"].read()))
            except OSError as err:
                said.append("OSError %s" % errno.errorcode.get(err.errno, err.errno))
            except Exception as err:  # noqa: BLE001 (what the app would see)
                said.append(type(err).__name__)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [(said[0] if said else "still waiting").encode()]

    return app


def serve_threads(serve):
    adapter = WSGIAdapter(make_app(), threads=4)
    st = serve(lambda server, _st: adapter.setup(server))
    return st, adapter


def head_and_body(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def ask_kept(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /read HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock).partition(b"\r\n\r\n")[2]


def test_the_input_of_a_call_that_is_over_raises_rather_than_reading_empty(serve):
    st, adapter = serve_threads(serve)
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
            sock.sendall(b"POST /keep HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY
                         + b"x" * BODY
                         + b"GET /read HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(sock)
        assert data.count(b"HTTP/1.1 200 OK") == 2, data
        assert data.endswith(b"OSError EBADF"), data  # not "read 0 bytes"
    finally:
        adapter.close()


def test_the_input_of_a_call_that_is_over_with_its_body_still_coming_raises_at_once(serve):
    st, adapter = serve_threads(serve)
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
            sock.sendall(b"POST /keep HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY
                         + b"x" * 300_000)  # the rest never comes while the body is read
            assert head_and_body(sock).startswith(b"HTTP/1.1 200 OK")
            assert ask_kept(st.port) == b"OSError EBADF"  # not a reader blocked for good
    finally:
        adapter.close()
