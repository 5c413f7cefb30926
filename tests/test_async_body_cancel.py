"""``await req.body()`` cancelled (``asyncio.wait_for`` timing out on a slow upload, the
handler answering 408) keeps nothing more of the body: its listeners go, the rest of
the body is read and dropped, and a later read says the body was discarded. The
awaitable of a cancelled read held every later chunk (and joined them at the end)."""

import asyncio
import socket

from harness import upload_peak

BODY = 32 << 20


def upload(port, results):
    """Send the head and a first part, wait for the server's answer, then send the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY + b"z" * 1024)
        answer = b""
        while not answer.endswith(b"too slow"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        results["answer"] = answer
        block = b"z" * 65536
        rest = BODY - 1024
        while rest:
            rest -= sock.send(block[:rest])
        results["sent"] = True


def test_a_cancelled_body_read_keeps_nothing_more(serve):
    def setup(server, st_):
        async def on_request(req, res):
            req.on("end", lambda: st_.record("end"))
            try:
                await asyncio.wait_for(req.body(), 0.2)
            except asyncio.TimeoutError:
                res.status_code = 408
                res.end("too slow")
            for _ in range(500):  # (the cancelled read lets go on a later turn)
                if not req.listener_count("data") and req.listener_count("close") == 0:
                    break
                await asyncio.sleep(0.01)
            st_.record("listeners", req.listener_count("data"), req.listener_count("close"))
            try:
                await req.body()
            except Exception as exc:
                st_.record("later read", getattr(exc, "code", None))
        server.on("request", on_request)

    st_ = serve(setup)
    peak, results = upload_peak(st_, upload)
    assert results["answer"].startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert st_.wait_for(lambda e: e[0] == "listeners") == ("listeners", 0, 0)
    assert st_.wait_for(lambda e: e[0] == "later read") == ("later read", "ERR_BODY_DISCARDED")
    assert peak < 8 << 20, f"{peak} bytes held for a read that was cancelled"
