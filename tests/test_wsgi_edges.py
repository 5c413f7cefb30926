"""WSGI edges, compared with gunicorn, both thread modes, an in-process server
on loopback:

- a ``Host`` that is no authority (``h:abc``, ``h:1:2``, ``user@h:81``, ``[::1]x``,
  ``h h``) leaves ``SERVER_NAME``/``SERVER_PORT`` the local address's (an app doing
  ``int(environ["SERVER_PORT"])`` got a 500);
- ``wsgi.file_wrapper`` over a /proc file (its size says 0) or a /sys one (it says 4096)
  sends its bytes (``threads = 1`` sent an empty body with ``Content-Length: 0``, or
  4096 promised and the close after 18 bytes);
- a 304's ``Content-Length`` other than 0 is sent as the app gave it, in both modes and
  for HEAD too (it was dropped only with ``threads = 1`` on GET);
- an endless generator answering a HEAD, a 304 or with a Content-Length stops at the
  first block past what the head allows in both modes (with threads it made thousands
  of blocks, 256 KiB's worth, before the loop's word reached the thread);
- ``write()`` called after the call returned (from a thread the app started) raises
  EBADF, as gunicorn's sync worker does (it was dropped and reported success; with
  ``threads = 1`` it ran the loop's objects from the foreign thread).
"""

import errno

import itertools

import pytest

from hostile import dechunked, exchange
from prefork.wsgi import WSGIAdapter


BLOCKS = []  # blocks the endless generator made, per request


def endless(status, headers):
    def generate():
        for n in itertools.count():
            BLOCKS[-1] = n + 1
            yield b"e"
    BLOCKS.append(0)
    return status, headers, generate()


WRITES = []  # the write() callables of /later calls


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/later":
        WRITES.append(start_response("200 OK", [("Content-Type", "text/plain")]))
        return [b"now"]
    if path.startswith("/endless"):
        status = "304 Not Modified" if path == "/endless/304" else "200 OK"
        headers = [("Content-Length", "5")] if path == "/endless/5" else []
        status, headers, body = endless(status, headers)
        start_response(status, headers)
        return body
    if path == "/proc":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open("/proc/self/status", "rb"))
    if path == "/sys":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open("/sys/class/net/lo/address", "rb"))
    if path == "/304":
        start_response("304 Not Modified", [("ETag", '"v"'), ("Content-Length", "4")])
        return [b"body"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s" % (environ["SERVER_NAME"], environ["SERVER_PORT"])).encode("latin-1")]


@pytest.fixture(params=[1, 4], ids=["threads1", "threads4"])
def st(serve, request):
    adapter = WSGIAdapter(app, threads=request.param)
    st_ = serve(lambda server, _st: adapter.setup(server))
    yield st_
    adapter.close()


def body_of(data):
    head, _, body = data.partition(b"\r\n\r\n")
    return head, (dechunked(body) if b"chunked" in head.lower() else body)


@pytest.mark.parametrize("host", ["h:abc", "h:99999", "h:-1", "h:1:2", "[::1]x", "user@h:81", "h h", "[::1"])
def test_a_host_that_is_no_authority_leaves_the_local_address(st, host):
    data = exchange(st.port, b"GET /env HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
    head, body = body_of(data)
    assert head.startswith(b"HTTP/1.1 200 "), data
    assert body == b"127.0.0.1|%d" % st.port


@pytest.mark.parametrize("host, expected", [("h", b"h|80"), ("h:81", b"h|81"), ("[::1]:82", b"::1|82"),
                                            ("h:", b"h|80"), ("1.2.3.4:5", b"1.2.3.4|5")])
def test_a_host_that_is_an_authority_gives_them(st, host, expected):
    data = exchange(st.port, b"GET /env HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
    assert body_of(data)[1] == expected


def test_a_file_wrapper_over_a_proc_file_sends_its_bytes(st):
    head, body = body_of(exchange(st.port, b"GET /proc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body.startswith(b"Name:") and b"\nPid:" in body


@pytest.mark.parametrize("method", [b"GET", b"HEAD"])
def test_a_304s_content_length_is_sent_as_given(st, method):
    data = exchange(st.port, method + b" /304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 304 ") and b"\r\ncontent-length: 4" in head.lower(), data
    assert body == b""


def test_a_file_wrapper_over_a_sys_file_sends_its_bytes(st):
    """/sys files say 4096 bytes whatever they hold: ``threads = 1`` sent Content-Length
    4096 and 18 bytes, then the close."""
    with open("/sys/class/net/lo/address", "rb") as fh:
        expected = fh.read()
    head, body = body_of(exchange(st.port, b"GET /sys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert head.startswith(b"HTTP/1.1 200 ") and body == expected


@pytest.mark.parametrize("method, path, most", [(b"HEAD", b"/endless", 1), (b"GET", b"/endless/304", 1),
                                                (b"GET", b"/endless/5", 6)])
def test_an_endless_body_stops_where_the_head_says(st, method, path, most):
    data = exchange(st.port, method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 "), data
    if path == b"/endless/5":
        assert data.endswith(b"\r\n\r\neeeee"), data
    assert 1 <= BLOCKS[-1] <= most, BLOCKS[-1]


def test_a_write_after_the_call_returned_raises(st):
    data = exchange(st.port, b"GET /later HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"\r\n\r\nnow"), data
    with pytest.raises(OSError) as err:
        WRITES[-1](b"late")  # from this thread, after the call
    assert err.value.errno == errno.EBADF
