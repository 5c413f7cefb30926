"""Flask's ``send_file`` answers a ``Range`` request by wrapping ``wsgi.file_wrapper`` in
Werkzeug's range iterator, which seeks to the range's start when the wrapper says it is
seekable and otherwise reads and drops every byte before it: the last kilobyte of a 1 GB
video read the whole gigabyte, on the worker's loop with ``threads = 1`` (gunicorn's
wrapper reads it all as well). The wrapper now seeks as its file does."""

import socket

import pytest

from hostile import read_to_close
from prefork.wsgi import WSGIAdapter

flask = pytest.importorskip("flask")

SIZE = 8 << 20


class _Counting:
    """A file that counts the bytes read from it."""

    def __init__(self, file, counts):
        self.file = file
        self.counts = counts

    def read(self, size=-1):
        data = self.file.read(size)
        self.counts.append(len(data))
        return data

    def seekable(self):
        return self.file.seekable()

    def seek(self, offset, whence=0):
        return self.file.seek(offset, whence)

    def tell(self):
        return self.file.tell()

    def close(self):
        self.file.close()


@pytest.fixture(params=[1, 4], ids=["loop", "threads"])
def served(serve, tmp_path, request):
    path = tmp_path / "video.bin"
    content = bytes(range(256)) * (SIZE // 256)
    path.write_bytes(content)
    app = flask.Flask(__name__)
    counts = []

    @app.get("/video")
    def video():
        return flask.send_file(path, mimetype="application/octet-stream", conditional=True)

    def counting(environ, start_response):
        wrapper = environ["wsgi.file_wrapper"]
        environ["wsgi.file_wrapper"] = lambda file, size=8192: wrapper(_Counting(file, counts), size)
        return app(environ, start_response)
    adapter = WSGIAdapter(counting, threads=request.param, timeout=30)
    st = serve(lambda server, _st: adapter.setup(server))
    st.counts = counts
    st.content = content
    yield st
    adapter.close()


@pytest.mark.parametrize("first,last", [(SIZE - 1000, SIZE - 1), (SIZE // 2 + 7, SIZE // 2 + 70000), (0, 99)])
def test_a_range_is_read_from_its_start_not_from_the_files(served, first, last):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"GET /video HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\nConnection: close\r\n\r\n"
                     % (first, last))
        head, _, body = read_to_close(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 206 "), head
    assert b"Content-Range: bytes %d-%d/%d" % (first, last, SIZE) in head, head
    assert body == served.content[first:last + 1]
    assert sum(served.counts) < (last + 1 - first) + 64 * 1024, sum(served.counts)
