"""A streamed response (a generator, or the legacy ``write()``) pipelined behind a
``wsgi.file_wrapper`` file and a large list body, ``threads = 1``: the file goes out from
a flush waiter of the socket inside the stream's first write, which ends the responses
ahead of it and hands the socket their bytes, and the socket tells its ``drain`` after
them, over its mark. The stream's call waited for another ``drain`` that never came: the
client got the first block and nothing more, and the worker's one call never ended,
every other client of the worker waiting for good. It goes on once those bytes are out.
"""

import socket

import pytest

from hostile import LAST, read_to_close, responses
from prefork.wsgi import WSGIAdapter

LIST = 8_000_000  # more than the kernel's send buffer takes from a socket whose peer does not read yet
BLOCKS = 8  # of 64 KiB, streamed


@pytest.fixture
def served(serve, tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"f" * 9000)

    def app(environ, start_response):
        where = environ["PATH_INFO"]
        if where == "/file":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return environ["wsgi.file_wrapper"](open(path, "rb"))
        if where == "/list":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return [b"l" * LIST]
        if where == "/generator":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return (b"g" * 65536 for _ in range(BLOCKS))
        if where == "/write":
            write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
            for _ in range(BLOCKS):
                write(b"w" * 65536)
            return []
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"last"]

    adapter = WSGIAdapter(app)
    return serve(lambda server, st_: adapter.setup(server))


def pipelined(port, paths):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    try:
        sock.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path for path in paths) + LAST)
        return responses(read_to_close(sock, timeout=10))
    finally:
        sock.close()


@pytest.mark.parametrize("stream", [b"/generator", b"/write"])
def test_a_stream_pipelined_behind_a_file_and_a_large_list_is_sent_whole(served, stream):
    got = pipelined(served.port, (b"/file", b"/list", stream))
    assert [(status, len(body)) for status, _, body in got] == [(200, 9000), (200, LIST), (200, BLOCKS * 65536),
                                                                (200, 4)]
    assert got[2][2] == stream[1:2] * (BLOCKS * 65536)
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:  # the worker's call is free
        sock.sendall(LAST)
        assert [(status, body) for status, _, body in responses(read_to_close(sock, timeout=5))] == [(200, b"last")]
