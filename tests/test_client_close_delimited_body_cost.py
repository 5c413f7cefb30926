"""A response body that runs to the connection's close costs the client no more CPU
whatever bytes it holds: blank lines in it are body, not heads to cut the read at.

Rule under test (http/llhttp.py): the rest of a read inside a response body delimited by
the connection's close is one piece. Before, such a read was cut at every blank line
(CRLF CRLF), one llhttp call each: a body of line ends took the client's loop about
300 ns a byte, against next to nothing for a Content-Length body of the same size.
"""

import asyncio
import time

import prefork
from test_hostile_client import RawServer, read_head

SIZE = 8 << 20
BLOCK = 64 << 10


def served(head):
    def handler(conn, index):
        read_head(conn)
        conn.sendall(head)
        block = b"\r\n" * (BLOCK // 2)
        for _ in range(SIZE // BLOCK):
            conn.sendall(block)
        conn.close()
    return RawServer(handler)


def client_cpu(port):
    """CPU seconds of the client's thread to read the whole body (its length checked)."""
    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        got = [0]

        def on_response(res):
            res.on("data", lambda chunk: got.__setitem__(0, got[0] + len(chunk)))
            res.on("end", lambda: done.set_result(got[0]))
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False})
        req.on("response", on_response)
        req.on("error", lambda err: done.done() or done.set_exception(err))
        start = time.thread_time()
        assert await asyncio.wait_for(done, 30) == SIZE
        return time.thread_time() - start
    return asyncio.run(main())


def test_blank_lines_in_a_body_to_the_close_cost_the_client_no_more_than_a_sized_body():
    sized, to_close = served(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE), served(b"HTTP/1.1 200 OK\r\n\r\n")
    try:
        known = client_cpu(sized.port)
        blank = client_cpu(to_close.port)
    finally:
        sized.close()
        to_close.close()
    assert blank < 3 * known + 0.25, f"{SIZE >> 20} MiB of line ends: {blank:.2f} s of CPU to the close, {known:.2f} s sized"
