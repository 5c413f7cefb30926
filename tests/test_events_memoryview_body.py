"""A response body chunk that is a memoryview of wider items (``array('i')``, a 2-D or
strided view) is framed by its bytes: ``Content-Length`` and chunk sizes count what is
sent. They counted the view's items, so a kept-alive client read the rest of the body as
the next response. A subclass of bytes is a body chunk, for the server and the client."""

import array
import socket

import prefork
from harness import read_until_close, run_with_client
from prefork.runtime import new_event_loop

WIDE = memoryview(array.array("i", [0x41424344, 0x45464748]))  # 8 bytes, 2 items
STRIDED = memoryview(b"abcdef")[::2]  # b"ace", not contiguous


def on_request(req, res):
    if req.url == "/end":
        res.end(WIDE)
    elif req.url == "/write":
        res.write(WIDE)
        res.end()
    else:
        res.end(STRIDED)


def responses(paths):
    loop = new_event_loop()
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]
    got = {}

    def client():
        try:
            for path in paths:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    got[path] = read_until_close(c).partition(b"\r\n\r\n")
        finally:
            loop.call_soon_threadsafe(loop.stop)
    run_with_client(loop, client, server)
    return got


def test_a_memoryview_of_wide_items_is_framed_by_its_bytes():
    got = responses(["/end", "/write", "/strided"])
    head, _, body = got["/end"]
    assert b"Content-Length: 8" in head and body == WIDE.tobytes(), got
    head, _, body = got["/write"]
    assert b"Transfer-Encoding: chunked" in head and body == b"8\r\n" + WIDE.tobytes() + b"\r\n0\r\n\r\n", got
    head, _, body = got["/strided"]
    assert b"Content-Length: 3" in head and body == b"ace", got


class Payload(bytes):
    """An app's own subclass of bytes."""


def test_a_subclass_of_bytes_is_a_body_chunk_for_the_server_and_the_client():
    # the client refused it (ERR_INVALID_ARG_TYPE), the server's res.end / res.write too
    import asyncio

    async def main():
        def on_request(req, res):
            chunks = []
            req.on("data", chunks.append)
            req.on("end", lambda: (res.write(Payload(b"<")), res.end(Payload(b"".join(chunks)))))
        server = prefork.create_server(on_request)
        server.listen(0)
        try:
            req = prefork.request({"port": server.address()["port"], "method": "POST", "path": "/"})
            req.write(Payload(b"ab"))
            req.end(Payload(b"c"))
            res = await req.response()
            return await res.read()
        finally:
            server.close()
    loop = new_event_loop()
    try:
        assert loop.run_until_complete(asyncio.wait_for(main(), 10)) == b"<abc"
    finally:
        loop.close()
