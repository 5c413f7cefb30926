"""An ``async for`` over a request the handler destroys mid-body (``req.destroy()``, no
error) raises ERR_STREAM_PREMATURE_CLOSE "Premature close", as Node's ``for await`` does
(it raised ECONNRESET "aborted", which says the client went); a client that goes mid-body
still gives ECONNRESET "aborted". The same program runs on Node 20."""

import asyncio
import socket
import subprocess
import threading

import pytest

import prefork

NODE = r"""
const http = require('http');
const srv = http.createServer(async (req, res) => { let n = 0;
  try { for await (const c of req) { if (++n == 3 && process.argv[1] == 'destroy') req.destroy(); }
        console.log('loop done'); }
  catch (e) { console.log('raised ' + e.code + ' ' + e.message); }
  srv.close(); });
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
"""


def client(port, done):
    """A chunked upload of 5-byte chunks; with ``done`` unset it goes away mid-body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(5):
            try:
                sock.sendall(b"5\r\nhello\r\n")
            except OSError:
                return
            done.wait(0.02)  # (a pause between chunks, ended early once the server has answered)


def ours(how):
    said = []

    async def main():
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        async def on_request(req, res):
            n = 0
            try:
                async for _ in req:
                    n += 1
                    if n == 3 and how == "destroy":
                        req.destroy()
                said.append("loop done")
            except Exception as exc:  # noqa: BLE001  (what the loop raised is the result)
                said.append(f"raised {getattr(exc, 'code', None)} {exc}")
            finished.set_result(None)

        server = prefork.create_server(on_request)
        server.listen(0, "127.0.0.1")
        port = server.address()["port"]
        done = threading.Event()
        thread = threading.Thread(target=client, args=(port, done))
        thread.start()
        try:
            await asyncio.wait_for(finished, 10)
        finally:
            done.set()
            await loop.run_in_executor(None, thread.join)
            server.close()
    asyncio.run(main())
    return said


def node(how):
    proc = subprocess.Popen(["node", "-e", NODE, how], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        client(port, threading.Event())
        return [proc.stdout.readline().strip()]
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("how", ["destroy", "client-gone"])
def test_an_async_for_over_a_request_destroyed_in_it_raises_as_nodes_loop(how):
    expected = {"destroy": ["raised ERR_STREAM_PREMATURE_CLOSE Premature close"],
                "client-gone": ["raised ECONNRESET aborted"]}[how]
    assert node(how) == expected
    assert ours(how) == expected
