"""Long-lived connections as an operator watches them: a WebSocket (or a tunnel) counts
in ``prefork_connections_active`` and in the status page's connections; before, only
connections still speaking HTTP did, so a drain held up by WebSockets showed none."""

import pytest

from daemon import wait_until

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402


def _active(d):
    return d.scrape().get(("prefork_connections_active", ()))


def test_open_websockets_count_as_active_connections(daemons):
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1)
    d.wait_ready()
    with connect(f"ws://127.0.0.1:{d.port}/ws", proxy=None) as one, \
            connect(f"ws://127.0.0.1:{d.port}/ws", proxy=None) as two:
        one.send("hello")
        assert one.recv(timeout=5) == "hello"
        two.send("hello")
        assert two.recv(timeout=5) == "hello"
        wait_until(lambda: _active(d) == 2, 10, what="two WebSockets in prefork_connections_active")
    wait_until(lambda: _active(d) == 0, 10, what="none once they closed")


def test_a_handshake_on_a_connection_kept_through_a_drain_is_closed_with_1012(serve):
    """A WebSocket handshake sent, after the drain began, on a keep-alive connection the
    worker still holds: accepted, then closed at once with 1012 as the sessions open at
    the drain's start were (it was held open until the tasks' cancel, 75 % of the
    graceful timeout later)."""
    import base64
    import os
    import socket
    import struct
    import time

    from apps import asgi_apps
    from prefork.asgi import ASGIAdapter

    def setup(server, st):
        st.adapter = ASGIAdapter(asgi_apps.app, lifespan="off").setup(server)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        got = b""
        while not got.endswith(b"Hello, World!"):
            chunk = sock.recv(65536)
            assert chunk, got
            got += chunk
        st.call(lambda: (st.server.drain(), st.adapter.drain()))
        key = base64.b64encode(os.urandom(16)).decode()
        started = time.monotonic()
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        data = b""
        while len(data) < 4:
            chunk = sock.recv(64)
            assert chunk, data
            data += chunk
        assert data[0] & 0x0F == 8, data  # a close frame
        assert struct.unpack("!H", data[2:4])[0] == 1012, data
        assert time.monotonic() - started < 5


def test_listener_tasks_cut_at_the_graceful_timeout_are_no_app_errors(daemons):
    """Events API: a coroutine listener still awaiting when the worker's graceful timeout
    runs out is cancelled by the worker: one warning says so, and the request gets its
    500; before, each was logged as an error of the app with a CancelledError traceback."""
    import signal
    import threading
    d = daemons("--graceful-timeout", "2", app="apps.awaiting:setup", workers=1)
    d.wait_ready()
    answers = []
    thread = threading.Thread(target=lambda: answers.append(d.request("/await/30", timeout=20)))
    thread.start()
    try:
        wait_until(lambda: _active(d) == 1, 10, what="the request in the worker")
        d.signal(signal.SIGTERM)
        assert d.wait_exit(15) == 0
    finally:
        thread.join(20)
    log = d.log()
    assert "cancelling 1 task still running at the exit" in log, log
    assert "error in a request listener" not in log and "CancelledError" not in log, log
    assert answers and answers[0].startswith(b"HTTP/1.1 500"), answers


def test_an_endless_wsgi_stream_cut_at_the_graceful_timeout_is_closed_and_logged(daemons, tmp_path):
    """A WSGI stream on a pool thread still going when the graceful timeout runs out: its
    iterable's close() runs (as PEP 3333 and docs/wsgi.md promise) and it gets its access
    log line; before, the worker exited under it with neither."""
    import signal
    import socket
    mark = tmp_path / "closed"
    access = tmp_path / "access.log"
    d = daemons("--graceful-timeout", "2", "--threads", "4", "--access-log", str(access),
                app="apps.wsgi_endless:app", workers=1, env={"WSGI_CLOSE_MARK": str(mark)})
    d.wait_ready()
    worker, = d.wait_workers(1)
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"data: tick" not in got:
            chunk = sock.recv(65536)
            assert chunk, got
            got += chunk
        d.signal(signal.SIGTERM)
        assert d.wait_exit(15) == 0
    assert mark.read_text() == f"closed {worker}\n"
    assert '"GET /events HTTP/1.1" 200' in access.read_text(), access.read_text()
    assert "closing 1 connection still open at the exit" in d.log(), d.log()


def _hwm_kb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_compressed_websocket_messages_that_inflate_wait_for_the_app(daemons):
    """permessage-deflate, an app slow to receive: one 64 KiB read of small compressed
    messages, each inflating to a megabyte, was inflated whole into the app's inbox
    (about 64 MB per connection) although the inbox stops reading at 1 MiB. Now the
    rest of the read waits with the socket; every message still arrives, in order."""
    import base64
    import os
    import socket
    import struct
    import zlib

    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1)
    d.wait_ready()
    worker, = d.wait_workers(1)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    inflated = packer.compress(b"\0" * 1_000_000) + packer.flush(zlib.Z_SYNC_FLUSH)

    def frame(opcode, payload, rsv1=False):
        first = 0x80 | (0x40 if rsv1 else 0) | opcode
        size = len(payload)
        head = bytes((first, 0x80 | size)) if size < 126 else bytes((first, 0x80 | 126)) + struct.pack("!H", size)
        return head + b"\0\0\0\0" + payload  # (a zero mask: the payload as it is)
    bomb = frame(2, inflated[:-4], rsv1=True)
    count = 65536 // len(bomb)
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as sock:
        key = base64.b64encode(os.urandom(16))
        sock.sendall(b"GET /ws/slow?3 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert b" 101 " in head and b"permessage-deflate" in head, head
        before = _hwm_kb(worker)
        sock.sendall(bomb * count + frame(2, b"count"))
        answer = b""
        while len(answer) < 2 or len(answer) < 2 + answer[1]:
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
        text = zlib.decompressobj(-15).decompress(answer[2:2 + answer[1]] + b"\0\0\xff\xff")
        assert text == str(count + 1).encode()  # every message reached the app
        grown = _hwm_kb(worker) - before
    assert grown < 20 * 1024, f"the worker's peak memory grew by {grown} kB for {count} MB of inflated messages"
