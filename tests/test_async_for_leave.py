"""An ``async for chunk in req`` left before the body's end (a ``break`` past a size the
handler allows, an exception in the loop) keeps nothing more for that loop: the rest
of the body goes by unread, as ``body(limit)``'s does, so an upload of any size costs
the worker a bounded amount of memory, and a later read says the body was discarded."""

import asyncio
import re
import socket

from harness import upload_peak

BODY = 32 << 20
LIMIT = 100_000


def upload(port, results):
    """POST a BODY-byte body in full, then read the answer (the server reads it all)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY)
        block = b"z" * 65536
        for _ in range(BODY // len(block)):
            sock.sendall(block)
        results["sent"] = True
        answer = b""
        while not re.search(rb"Content-Length: (\d+)\r\n\r\n(took \d+)$", answer):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        results["answer"] = answer


def test_leaving_async_for_early_keeps_no_more_of_the_body(serve):
    def setup(server, st_):
        async def on_request(req, res):
            req.on("end", lambda: st_.record("end"))
            taken = 0
            async for chunk in req:
                taken += len(chunk)
                if taken > LIMIT:
                    break
            res.end(b"took %d" % taken)
            for _ in range(500):  # (the loop's generator is closed on a later turn)
                if not req.listener_count("data"):
                    break
                await asyncio.sleep(0.01)
            st_.record("data listeners", req.listener_count("data"))
            try:
                await req.body()
            except Exception as exc:
                st_.record("later read", getattr(exc, "code", None))
        server.on("request", on_request)

    st_ = serve(setup)
    peak, results = upload_peak(st_, upload)
    assert results["answer"].startswith(b"HTTP/1.1 200 OK\r\n")
    assert LIMIT < int(results["answer"].rsplit(b" ", 1)[1]) <= LIMIT + 2 * 65536, results["answer"]
    assert st_.wait_for(lambda e: e[0] == "data listeners") == ("data listeners", 0)
    assert st_.wait_for(lambda e: e[0] == "later read") == ("later read", "ERR_BODY_DISCARDED")
    assert peak < 8 << 20, f"{peak} bytes held for a loop that stopped reading"
