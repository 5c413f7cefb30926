"""A ``receive()`` that was waiting for the request body when another of the app's tasks
took the body's end gets the end as well (an empty ``http.request``, ``more_body``
false), as uvicorn wakes every waiting receive with it. Starlette's StreamingResponse
(spec 2.3) listens for the disconnect in one task while its generator reads
``request.stream()`` in another: before, the listener took the end and the generator
waited for good, the response never finished."""

import socket

from daemon import Daemon


def read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_streamed_response_whose_generator_reads_the_body_ends_when_the_body_ends():
    d = Daemon(app="apps.asgi_stream_reads_body:app", workers=1)
    try:
        d.wait_ready()
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            sock.sendall(b"POST /relay HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            head = read_until(sock, b"started\n")  # both receive() calls wait for the body now
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            sock.sendall(b"5\r\nhello\r\n0\r\n\r\n")
            rest = read_until(sock, b"0\r\n\r\n")
            assert b"body read\n" in rest and rest.endswith(b"0\r\n\r\n"), rest
        finally:
            sock.close()
    finally:
        d.cleanup()
