"""A body read late: a plain ``request`` listener starts a task that awaits something
first, then reads the body (``await req.body()``, ``async for``). The read came back
empty, silently: an upload taken for an empty one. The body is now kept for a reader
until its response is done, as Node keeps it, and the late read gets it whole; a read
after the response dropped it raises ERR_BODY_DISCARDED, as the client's response does
in the same case (tests/test_server_late_reader_body.py)."""

import asyncio
import socket

import pytest

from hostile import read_to_close


def serve_late_reader(serve, how):
    def setup(server, st):
        def on_request(req, res):
            async def later():
                await asyncio.sleep(0.05)
                try:
                    if how == "body":
                        body = await req.body()
                    else:
                        body = b"".join([chunk async for chunk in req])
                    res.end(f"read {len(body)}")
                except Exception as exc:  # noqa: BLE001
                    res.end(f"error {getattr(exc, 'code', exc)}")
            asyncio.ensure_future(later())
        server.on("request", on_request)
    return serve(setup)


@pytest.mark.parametrize("how", ["body", "async for"])
def test_a_body_read_late_is_read_whole_not_empty(serve, how):
    st = serve_late_reader(serve, how)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789")
        data = read_to_close(sock)
    assert data.endswith(b"read 10"), data


def test_a_request_without_a_body_reads_empty_late(serve):
    st = serve_late_reader(serve, "body")
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock)
    assert data.endswith(b"read 0"), data


def test_a_paused_request_is_read_late_whole(serve):
    def setup(server, st):
        def on_request(req, res):
            req.pause()

            async def later():
                await asyncio.sleep(0.05)
                res.end(f"read {len(await req.body())}")
            asyncio.ensure_future(later())
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789")
        data = read_to_close(sock)
    assert data.endswith(b"read 10"), data


@pytest.mark.parametrize("first, second, expected", [("utf8", "utf8", "héllo"), ("latin1", "hex", "hÃ©llo")])
def test_set_encoding_twice_with_bytes_kept(serve, first, second, expected):
    """Text kept from a first set_encoding passes through a second one whole, as Node's
    StringDecoder passes a string (the decoder that replaced the request's own raised)."""
    def setup(server, st):
        def on_request(req, res):
            req.pause()

            def later():
                req.set_encoding(first)
                req.set_encoding(second)
                text = []
                req.on("data", text.append)
                req.on("end", lambda: res.end("".join(text)))
                req.resume()
            server.loop.call_later(0.05, later)
        server.on("request", on_request)
    st = serve(setup)
    body = "héllo".encode()
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b"
                     % (len(body), body))
        data = read_to_close(sock)
    assert data.split(b"\r\n\r\n", 1)[1].decode() == expected, data
