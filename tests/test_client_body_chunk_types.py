"""What a client request body chunk may be: ``str`` or bytes-like, sent as its bytes
(the framing counts those bytes, a memoryview of wider items included); ``write(None)``
and a chunk of another type raise as Node throws (ERR_STREAM_NULL_VALUES,
ERR_INVALID_ARG_TYPE), before anything is fixed, so the request goes on unharmed."""

import array
import asyncio

import pytest

import prefork
from test_hostile_client import RawServer, read_head


def framed_exchange(conn, seen):
    """Reads one request by its framing, records (head, body, what came after it), and
    answers with a close."""
    data = read_head(conn)
    head, _, rest = data.partition(b"\r\n\r\n")
    fields = {line.split(b":", 1)[0].strip().lower(): line.split(b":", 1)[1].strip()
              for line in head.split(b"\r\n")[1:]}
    if b"content-length" in fields:
        length = int(fields[b"content-length"])
        while len(rest) < length:
            rest += conn.recv(65536)
        body, after = rest[:length], rest[length:]
    else:
        body = b""
        while True:  # chunked: sizes as they say
            while b"\r\n" not in rest:
                rest += conn.recv(65536)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += conn.recv(65536)
            body, rest = body + rest[:size], rest[size + 2:]
            if size == 0:
                break
        after = rest
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    conn.settimeout(2)
    while True:  # what the client sent past the framed body, until its close
        chunk = conn.recv(65536)
        if not chunk:
            break
        after += chunk
    seen.append((head, body, after))


def send(body_calls):
    """One POST made with ``body_calls(req)``; the server's (head, body, after) and what
    the calls raised."""
    seen = []
    srv = RawServer(lambda conn, index: framed_exchange(conn, seen))
    try:
        async def main():
            req = prefork.request({"host": "127.0.0.1", "port": srv.port, "method": "POST", "agent": False})
            raised = body_calls(req)
            res = await asyncio.wait_for(req.response(), 5)
            assert await asyncio.wait_for(res.read(), 5) == b"ok"
            return raised
        raised = asyncio.run(main())
    finally:
        srv.close()
    assert len(seen) == 1
    return seen[0], raised


WIDE = array.array("i", [65, 66])  # 8 bytes in 2 items


def test_a_memoryview_of_wide_items_is_sent_with_the_length_of_its_bytes():
    (head, body, after), _ = send(lambda req: req.end(memoryview(WIDE)))
    assert b"Content-Length: 8" in head
    assert body == WIDE.tobytes() and after == b""


def test_a_written_memoryview_of_wide_items_is_one_chunk_of_its_bytes():
    (head, body, after), _ = send(lambda req: (req.write(memoryview(WIDE)), req.write(memoryview(b"xyz")[::2]),
                                               req.end()))
    assert b"Transfer-Encoding: chunked" in head
    assert body == WIDE.tobytes() + b"xz" and after == b""


def raising(call):
    try:
        call()
    except TypeError as exc:
        return exc.code
    return None


@pytest.mark.parametrize("chunk, code", [(5, "ERR_INVALID_ARG_TYPE"), (WIDE, "ERR_INVALID_ARG_TYPE"),
                                         (None, "ERR_STREAM_NULL_VALUES")])
def test_a_write_of_a_chunk_that_is_no_body_raises_and_the_request_goes_on(chunk, code):
    def calls(req):
        code = raising(lambda: req.write(chunk))
        req.end(b"body")
        return code
    (head, body, after), raised = send(calls)
    assert raised == code
    assert head.startswith(b"POST / HTTP/1.1\r\n") and b"Content-Length: 4" in head
    assert body == b"body" and after == b""


def test_an_end_with_a_chunk_that_is_no_body_raises_and_the_request_can_end_again():
    def calls(req):
        code = raising(lambda: req.end(5))
        req.end()
        return code
    (head, body, after), raised = send(calls)
    assert raised == "ERR_INVALID_ARG_TYPE"
    assert head.startswith(b"POST / HTTP/1.1\r\n") and b"Content-Length: 0" in head
    assert body == b"" and after == b""
