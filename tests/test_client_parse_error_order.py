"""A response whose body breaks the parser in the same read as its head and first body
bytes: the request's ``error`` comes first, then the body chunks the response kept
(Node v20's client: llhttp's body callbacks only buffer into a stream that starts
flowing on the next tick, and the parse error is emitted as ``execute`` returns), then
``aborted`` and the closes. prefork used to give ``data`` before ``error`` there.

Real loopback sockets: a raw server thread answers with canned bytes in one write.
"""

import asyncio

import prefork
from test_hostile_client import RawServer, read_head

BROKEN = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\n\r\n"
WHOLE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"


def events_for(reply):
    def handler(conn, index):
        if read_head(conn) is not None:
            conn.sendall(reply)
            conn.recv(1)  # (until the client closes)

    server = RawServer(handler)

    async def main():
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        events = []

        def on_response(res):
            events.append(("response", res.status_code))
            res.on("data", lambda chunk: events.append(("data", chunk)))
            res.on("end", lambda: events.append(("end",)))
            res.on("aborted", lambda: events.append(("aborted",)))
            res.on("error", lambda err: events.append(("res error", err.code)))
            res.on("close", lambda: closed.done() or closed.set_result(None))

        req = prefork.get({"host": "127.0.0.1", "port": server.port, "path": "/", "agent": False}, on_response)
        req.on("error", lambda err: events.append(("error", err.code)))
        req.on("close", lambda: events.append(("close",)))
        await asyncio.wait_for(closed, 5)
        return events

    try:
        return asyncio.run(main())
    finally:
        server.close()


def test_the_parse_error_comes_before_the_body_chunks_of_its_read():
    assert events_for(BROKEN) == [
        ("response", 200), ("error", "HPE_INVALID_CHUNK_SIZE"), ("data", b"hello"), ("aborted",),
        ("close",), ("res error", "ECONNRESET")]


def test_a_whole_body_in_the_heads_read_still_comes_whole():
    assert events_for(WHOLE) == [("response", 200), ("data", b"hello"), ("end",), ("close",)]
