"""The client, a response whose Transfer-Encoding ends in ``chunked`` then a tab, the
server closing after its body: llhttp reads that coding as another one, so the body is
close-delimited and the close ends it (Node's client: ``end`` with every byte). The
client took the trimmed value for chunked and reported the response ``aborted``."""

import asyncio
import os
import socket
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import prefork  # noqa: E402
from test_http_te_tab_node import _node  # noqa: E402

BODY = b"hello world"


def _serve_once(listener, data):
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = conn.recv(65536)
            if not chunk:
                return
            got += chunk
        conn.sendall(data)


def _ours(data):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=_serve_once, args=(listener, data), daemon=True)
        server.start()

        async def main():
            got = asyncio.get_running_loop().create_future()
            req = prefork.request({"host": "127.0.0.1", "port": listener.getsockname()[1], "agent": False})

            def on_response(res):
                size = [0]
                res.on("data", lambda chunk: size.__setitem__(0, size[0] + len(chunk)))
                res.on("end", lambda: got.done() or got.set_result({"body": size[0]}))
                res.on("aborted", lambda: got.done() or got.set_result({"error": "aborted"}))
                res.on("error", lambda err: got.done() or got.set_result({"error": getattr(err, "code", err)}))

            req.on("response", on_response)
            req.on("error", lambda err: got.done() or got.set_result({"error": getattr(err, "code", err)}))
            req.end()
            return await asyncio.wait_for(got, 10)

        try:
            return asyncio.run(main())
        finally:
            server.join(10)


@pytest.mark.parametrize("coding", [b"chunked\t", b"gzip, chunked\t", b"gzip"])
def test_a_close_delimited_body_after_chunked_then_tab_ends_at_the_close(coding):
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" + BODY
    assert _node(data) == {"body": len(BODY)}
    assert _ours(data) == {"body": len(BODY)}


def test_a_chunked_body_cut_by_the_close_is_still_aborted():
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \r\n\r\n5\r\nhello\r\n"
    assert _ours(data) == {"error": "aborted"}
