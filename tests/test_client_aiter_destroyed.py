"""An ``async for`` over a response whose request is destroyed mid-body (``req.destroy()``
in the loop, on a body that never ends) raises ECONNRESET "aborted" and leaves the
request alone: no ``abort`` after its ``close`` (the loop left by that error is no
``break``), as Node's ``for await`` over the same server. A ``break`` still aborts."""

import asyncio
import socket
import threading
import time

import pytest

import prefork
from harness import node_events


@pytest.fixture
def endless():
    """A server whose answer's chunked body never ends (a chunk every 10 ms)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def answer(conn):
        with conn:
            conn.settimeout(5)
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                got += chunk
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                while not stop.is_set():
                    conn.sendall(b"5\r\nhello\r\n")
                    time.sleep(0.01)
            except OSError:
                return

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    yield sock.getsockname()[1]
    stop.set()
    sock.close()


def ours(port, how):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})
        for name in ("abort", "close"):
            req.on(name, lambda name=name: events.append("req." + name))
        req.on("error", lambda err: events.append("req.error " + err.code))
        req.end()
        res = await asyncio.wait_for(req, 5)
        res.on("aborted", lambda: events.append("res.aborted"))
        res.on("close", lambda: events.append("res.close"))
        res.on("error", lambda err: events.append("res.error " + err.code))
        chunks = 0
        try:
            async for _ in res:
                chunks += 1
                if chunks == 3:
                    events.append(how)
                    if how == "destroy":
                        req.destroy()
                    else:
                        break
            events.append("loop done")
        except ConnectionResetError as err:
            events.append("raised " + err.code)
        closed = loop.create_future()
        res.on("close", lambda: closed.done() or closed.set_result(None)) if not res.closed else closed.set_result(None)
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)  # (an 'abort' still due would come by then)

    asyncio.run(main())
    return events


NODE_PROGRAM = """
const req = http.request({port: %d, host: '127.0.0.1', agent: false});
for (const n of ['abort', 'close']) req.on(n, () => log('req.' + n));
req.on('error', (e) => log('req.error', e.code));
req.on('response', async (res) => {
  res.on('aborted', () => log('res.aborted')); res.on('close', () => log('res.close'));
  res.on('error', (e) => log('res.error', e.code));
  let chunks = 0;
  try {
    for await (const c of res) {
      if (++chunks == 3) { log('%s'); if ('%s' == 'destroy') req.destroy(); else break; }
    }
    log('loop done');
  } catch (e) { log('raised', e.code); }
  setTimeout(done, 100);
});
req.end();
"""


@pytest.mark.parametrize("how", ["destroy", "break"])
def test_an_async_for_left_by_a_destroy_gives_no_abort_after_the_close_as_node(endless, how):
    got = ours(endless, how)
    if how == "destroy":
        assert got == ["destroy", "res.aborted", "req.close", "res.error ECONNRESET", "res.close",
                       "raised ECONNRESET"]
    else:
        assert got[:2] == ["break", "loop done"] and "req.abort" in got
    theirs = node_events(NODE_PROGRAM % (endless, how, how), joined=True)
    assert sorted(got) == sorted(theirs)
    if how == "destroy":
        assert got == theirs
