"""A client that resets its connection while its bytes wait unread is noticed on every
loop: when the server resumes a paused request, and, for bytes a loop never reads,
by ``request_timeout``.

uvloop, given a reader on a socket whose peer's bytes and reset both wait (the reader
added back after a pause, or a loop busy when they came), calls it once and never
again; a request whose body was paused (an app reading an upload slowly) then never
heard of its client's reset, and the server's sweep kept putting its timeout off for
the bytes it saw waiting. Real loopback sockets, a server on a loop thread.
"""

import socket
import struct
import threading
import time

import pytest

from conftest import ServerThread

LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("uvloop") is None, reason="uvloop is not installed"))]
BODY = 2_000_000


def start(loop_name, setup, **options):
    """conftest's server on a loop thread, on the loop named: (port, events, stop)."""
    st = ServerThread(lambda server, st: setup(server, st.loop, st.events), loop_name=loop_name, **options)
    return st.port, st.events, st.stop


def wait_for(events, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(predicate(e) for e in list(events)):
            return True
        time.sleep(0.01)
    return False


def send_then_reset(port, events, after):
    """Send a request with a large body (as much as the kernel takes), wait until
    ``after`` is in ``events``, then reset the connection."""
    client = socket.create_connection(("127.0.0.1", port))
    client.setblocking(False)
    try:
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY + b"x" * BODY)
    except BlockingIOError:
        pass
    assert wait_for(events, lambda e: e == after, 5)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_reset_while_a_request_is_paused_is_seen_at_resume(loop_name):
    paused = []

    def setup(server, loop, events):
        def on_request(req, res):
            got = [0]

            def on_data(chunk):
                got[0] += len(chunk)
                if got[0] > 100_000 and not paused:
                    req.pause()
                    paused.append((loop, req))
                    events.append("paused")
            req.on("data", on_data)
            req.on("close", lambda *a: events.append(("close", req.aborted)))
        server.on("request", on_request)

    port, events, stop = start(loop_name, setup)
    try:
        send_then_reset(port, events, "paused")  # (over loopback the reset is there when close() returns)
        loop, req = paused[0]
        loop.call_soon_threadsafe(req.resume)  # an app that reads on, after its client went
        assert wait_for(events, lambda e: isinstance(e, tuple), 5), events
        assert ("close", True) in events
    finally:
        stop()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_reset_a_busy_loop_finds_with_bytes_unread_ends_by_request_timeout(loop_name):
    """The loop is busy (a handler computing) while a client sends a body and resets:
    uvloop then never reads the bytes left; the request ends by its timeout (the sweep
    puts it off once for bytes it sees waiting, not for ever)."""
    go = threading.Event()

    def setup(server, loop, events):
        def on_request(req, res):
            req.on("data", lambda chunk: None)  # an app reading the body as it comes
            req.on("close", lambda *a: events.append(("close", req.aborted)))
            events.append("request")
            go.wait(5)  # the loop is busy until the client has sent its bytes and reset
        server.on("request", on_request)

    port, events, stop = start(loop_name, setup, request_timeout=1.0, headers_timeout=1.0,
                               connections_checking_interval=0.2)
    try:
        send_then_reset(port, events, "request")
        go.set()
        assert wait_for(events, lambda e: isinstance(e, tuple), 10), events
    finally:
        stop()


def acknowledged(sock):
    """The peer's kernel has acknowledged every byte this socket sent."""
    import fcntl
    import termios
    return struct.unpack("i", fcntl.ioctl(sock, termios.TIOCOUTQ, b"\0\0\0\0"))[0] == 0


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("whole", [True, False])
def test_what_came_before_a_reset_is_read_before_the_reset_is_told(loop_name, whole):
    """A body that arrived whole before its client's reset, while the request was paused,
    is the app's when it reads it later (the kernel keeps it ahead of the reset); one
    the reset cut short is ECONNRESET "aborted". Neither read waits for ever."""
    import asyncio
    size = 150_000
    go = threading.Event()
    outcome = []

    def setup(server, loop, events):
        async def on_request(req, res):
            events.append("request")
            while not go.is_set():  # not reading yet: the socket stops at the mark
                await asyncio.sleep(0.01)
            try:
                outcome.append(len(await asyncio.wait_for(req.body(), 5)))
            except Exception as exc:
                outcome.append(getattr(exc, "code", repr(exc)))
            events.append("read")
        server.on("request", on_request)

    port, events, stop = start(loop_name, setup)
    try:
        client = socket.create_connection(("127.0.0.1", port))
        declared = size if whole else 10 * size
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % declared + b"u" * size)
        assert wait_for(events, lambda e: e == "request", 5)
        deadline = time.monotonic() + 5
        while not acknowledged(client) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert acknowledged(client)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        go.set()
        assert wait_for(events, lambda e: e == "read", 10), events
        assert outcome == [size if whole else "ECONNRESET"]
    finally:
        stop()
