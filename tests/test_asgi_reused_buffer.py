"""An ASGI app that sends its body chunks from one bytearray it refills (a file read with
``readinto``, a ring buffer) gets each chunk sent as it was when ``send()`` was called,
as uvicorn sends it: a chunk the socket has not taken yet is not read from the app's
buffer later, after the app has already written the next chunk into it."""

import asyncio
import socket

from harness import read_until_close
from prefork.asgi import ASGIAdapter

CHUNK = 16 * 1024
CHUNKS = 64


def pattern(i):
    return bytes([65 + i % 26]) * CHUNK


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    view = scope["path"] == "/memoryview"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(CHUNK * CHUNKS).encode())]})
    buf = bytearray(CHUNK)
    for i in range(CHUNKS):
        buf[:] = pattern(i)  # refilled in place for the next chunk
        await send({"type": "http.response.body", "body": memoryview(buf) if view else buf,
                    "more_body": i < CHUNKS - 1})


def small_send_buffer(conn):
    """The kernel takes a few KiB of a chunk: the rest waits in the server's queue."""
    dup = socket.socket(fileno=socket.dup(conn.fileno()))
    try:
        dup.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    finally:
        dup.close()


def server(serve):
    def setup(server, st):
        server.on("connection", small_send_buffer)
        st.adapter = ASGIAdapter(app).setup(server)
        server.loop.run_until_complete(st.adapter.startup())
    st = serve(setup)
    stop = st.stop

    def stop_after_shutdown():
        asyncio.run_coroutine_threadsafe(st.adapter.shutdown(), st.loop).result(10)
        stop()
    st.stop = stop_after_shutdown
    return st


def corrupt_chunks(port, path):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    try:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        response = read_until_close(sock)
    finally:
        sock.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert len(body) == CHUNK * CHUNKS
    return [i for i in range(CHUNKS) if body[i * CHUNK:(i + 1) * CHUNK] != pattern(i)]


def test_a_bytearray_body_refilled_after_send_is_sent_as_it_was(serve):
    st = server(serve)
    for path in (b"/bytearray", b"/memoryview"):
        assert corrupt_chunks(st.port, path) == [], path
