"""Real Django and Flask apps, unchanged, on prefork (on the loop and on threads) and on
gunicorn (sync and gthread) side by side: the same client script, the same answers.

Each server serves the app of the test; every process started is killed by PID at the
end (``Daemon`` and ``Gunicorn`` clean up)."""

import fcntl
import json
import socket
import struct
import termios
import time

import pytest

from daemon import Daemon, wait_until
from journey_peers import Gunicorn

httpx = pytest.importorskip("httpx")
pytest.importorskip("flask")
pytest.importorskip("django")

DJANGO = "apps.frameworks_django.wsgi:application"
FLASK = "apps.frameworks_flask:app"
SERVERS = ["prefork-loop", "prefork-threads", "gunicorn-sync", "gunicorn-gthread"]


def _start(kind, app):
    if kind.startswith("gunicorn"):
        server = Gunicorn(app, threads=1 if kind == "gunicorn-sync" else 4)
    else:
        server = Daemon("--interface", "wsgi", "--threads", "1" if kind == "prefork-loop" else "4",
                        "--timeout", "20", app=app, workers=1)
    try:
        server.wait_ready()
    except BaseException:
        server.cleanup()
        raise
    return server


@pytest.fixture(scope="module", params=SERVERS)
def django_server(request):
    server = _start(request.param, DJANGO)
    yield server
    server.cleanup()


@pytest.fixture(scope="module", params=SERVERS)
def flask_server(request):
    server = _start(request.param, FLASK)
    yield server
    server.cleanup()


def _get(server, path):
    with httpx.Client(timeout=10) as client:
        response = client.get(f"http://127.0.0.1:{server.port}{path}")
    return response.status_code, response.text


def test_django_code_that_refuses_a_running_event_loop_runs(django_server):
    # A WSGI app is synchronous code: the ORM, asyncio.run() and async_to_sync (behind
    # Django's async views and async streams) refuse to run in a thread where an event
    # loop runs. gunicorn runs them; so must prefork on its loop (threads = 1).
    assert _get(django_server, "/orm") == (200, "orm 42")
    assert _get(django_server, "/async-view") == (200, "async view")
    assert _get(django_server, "/asyncio-run") == (200, "asyncio.run")
    assert _get(django_server, "/async-to-sync") == (200, "async_to_sync")
    assert _get(django_server, "/async-stream") == (200, "line 0\nline 1\nline 2\n")
    assert _get(django_server, "/orm") == (200, "orm 42")  # the worker serves on, unharmed
    assert "SynchronousOnlyOperation" not in django_server.log()


def test_flask_async_view_runs(flask_server):
    for _ in range(2):
        assert _get(flask_server, "/async-view") == (200, "flask async view")


def test_the_threads_event_loop_is_the_apps_own_as_under_gunicorn_sync():
    """``asyncio.get_event_loop().run_until_complete(...)`` in a view: gunicorn's sync
    worker runs it (the main thread gets a loop of its own); so must prefork on its loop
    (threads = 1), where the worker's running loop was the thread's event loop and
    refused with "This event loop is already running"."""
    answers = {}
    for kind in ("prefork-loop", "gunicorn-sync"):
        server = _start(kind, FLASK)
        try:
            answers[kind] = [_get(server, "/legacy-loop") for _ in range(2)]
        finally:
            server.cleanup()
    assert answers["prefork-loop"] == answers["gunicorn-sync"] == [(200, "legacy loop")] * 2


def test_django_keeps_one_database_connection_per_server_thread(django_server, request):
    # CONN_MAX_AGE: Django keeps a thread's connection between requests (in asgiref's
    # Local, which lives in context variables). On one thread (gunicorn sync, prefork on
    # its loop) every request, whatever its TCP connection, uses the one connection.
    counts = [int(_get(django_server, "/db-connections")[1]) for _ in range(6)]  # a new TCP connection each
    threads = 4 if request.node.callspec.params["django_server"] in ("prefork-threads", "gunicorn-gthread") else 1
    assert 1 <= counts[-1] <= threads, counts


def _queued(sock):
    """Bytes waiting in ``sock``'s receive queue."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


def _read_all(sock):
    """Every byte until the peer closes (in a bytearray: 32 MiB in linear time)."""
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return bytes(data)
        data += chunk


def _read_chunked(data):
    body = bytearray()
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return bytes(body), data == b"\r\n"
        body += data[:size]
        assert data[size:size + 2] == b"\r\n"
        data = data[size + 2:]


def _wait_stalled(sock):
    """Until bytes wait in ``sock``'s receive queue and no more arrive: the server's
    sending is held up by this client, which does not read."""
    deadline = time.monotonic() + 10
    last = -1
    while True:
        queued = _queued(sock)
        if queued > 0 and queued == last:
            return queued
        assert time.monotonic() < deadline, "the response never filled the buffers"
        last = queued
        time.sleep(0.1)


def test_flask_stream_with_context_paused_by_a_slow_reader_ends_whole(flask_server):
    # A client that waits before reading fills the socket's buffers: the server pauses
    # the generator and resumes it on 'drain'. Flask's stream_with_context pushed its
    # contexts (context variables) when it started and pops them with their tokens at
    # the end: resumed in another context, the pop raised and the body was cut.
    blocks = 512  # 32 MiB: more than the kernel's buffers and the worker's held bytes
    sock = socket.create_connection(("127.0.0.1", flask_server.port), timeout=10)
    try:
        sock.sendall(f"GET /stream-large?blocks={blocks}&fill=q HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n".encode())
        assert _wait_stalled(sock) < blocks * 65536 // 2  # held up: the generator waits for 'drain'
        data = _read_all(sock)
    finally:
        sock.close()
    head, _, chunked = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"transfer-encoding: chunked" in head.lower(), head
    body, ended = _read_chunked(chunked)
    assert ended, "the body was cut: no last chunk"
    assert body == b"q" * (blocks * 65536)
    assert "Traceback" not in flask_server.log()


def test_flask_stream_with_context_paused_then_left_is_torn_down(flask_server):
    # The client leaves (a reset) while the generator waits for it to read: the iterable
    # is closed, and Flask's request context, pushed when the stream began, is torn down
    # (its teardown_request functions run) without an error.
    def ended():
        return _get(flask_server, "/ended")[1]
    before = ended()
    sock = socket.create_connection(("127.0.0.1", flask_server.port), timeout=10)
    try:
        sock.sendall(b"GET /stream-large?blocks=512&fill=r HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _wait_stalled(sock) < 512 * 65536 // 2
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
    count = json.loads(before)["stream-large"]
    # torn down when the view returned, and again when the generator (which pushed the
    # context once more) ended
    wait_until(lambda: json.loads(ended())["stream-large"] == count + 2, 10, what="the stream's teardown")
    assert "Traceback" not in flask_server.log()


def test_django_set_cookie_lines_as_gunicorn_sends_them(django_server):
    # Django's WSGI handler gives each Set-Cookie value with a leading space
    # (SimpleCookie's output); gunicorn sends "Set-Cookie: theme=dark; Path=/", and so
    # must prefork, not "Set-Cookie:  theme=dark; Path=/".
    sock = socket.create_connection(("127.0.0.1", django_server.port), timeout=10)
    try:
        sock.sendall(b"GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = _read_all(sock)
    finally:
        sock.close()
    head = data.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 200 OK", head
    assert [line for line in head if line.lower().startswith(b"set-cookie:")] == [
        b"Set-Cookie: theme=dark; Path=/", b"Set-Cookie: token=abc; HttpOnly; Path=/; SameSite=Lax"]
