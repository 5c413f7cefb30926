"""An ``async for`` over a response left early decides, when its iterator is collected,
whether the request is aborted: an iterator collected in another thread (a reference
cycle freed by a ``gc.collect()`` there) still aborts the request at once (its loop woken,
thread-safe), and one collected after its loop closed does nothing (no output). And
``req.destroy(); req.abort()`` gives Node's events: before a socket is given ``close``
and ``abort`` with no "socket hang up" (Node's ``_destroy`` drops it once aborted); from
a ``socket`` listener ``abort``, then the error and ``close``."""

import asyncio
import gc
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import prefork
from harness import node_events
from test_client_aiter_destroyed import endless  # noqa: F401  (the fixture)


@pytest.fixture
def stalling():
    """A server that sends a chunked body's first four chunks, then nothing (till the end of the test)."""
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
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"5\r\nhello\r\n" * 4)
            except OSError:
                return
            stop.wait(10)

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


def test_an_iterator_collected_in_another_thread_aborts_its_request_at_once(stalling):
    got = {}

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": stalling, "agent": False})
        req.on("abort", lambda: got.setdefault("abort", time.monotonic()))
        req.end()
        res = await asyncio.wait_for(req, 5)
        closed = asyncio.get_running_loop().create_future()
        res.on("close", lambda: closed.done() or closed.set_result(None))

        class Holder:
            pass

        holder = Holder()
        holder.cycle = holder
        holder.it = aiter(res)
        chunks = 0
        async for _ in holder.it:
            chunks += 1
            if chunks == 3:
                break
        del holder  # (freed only by a collection: the loop, its socket paused, sleeps)
        collector = threading.Thread(target=lambda: (gc.collect(), got.setdefault("collected", time.monotonic())))
        collector.start()
        await asyncio.wait_for(closed, 6)
        got["closed"] = time.monotonic()
        collector.join(5)

    gc.disable()
    try:
        asyncio.run(main())
    finally:
        gc.enable()
    assert got["abort"] - got["collected"] < 1.5  # (not at the next wake-up: the wait's 6 s timeout)
    assert got["closed"] - got["collected"] < 1.5



def test_an_iterator_collected_in_another_thread_after_a_destroy_still_aborts(stalling):
    """``req.destroy()`` then ``break``, the iterator freed by a ``gc.collect()`` in another
    thread while the loop is busy: the request is aborted all the same (Node's for-await
    aborts at the break), its 'abort' after the closes the destroy queued."""
    events = []

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": stalling, "agent": False})
        aborted = asyncio.get_running_loop().create_future()
        req.on("abort", lambda: (events.append("abort"), aborted.done() or aborted.set_result(None)))
        req.on("close", lambda: events.append("close"))
        req.on("error", lambda err: events.append("error"))
        req.end()
        res = await asyncio.wait_for(req, 5)

        class Holder:
            pass

        holder = Holder()
        holder.cycle = holder
        holder.it = aiter(res)
        async for _ in holder.it:
            req.destroy()
            break
        del holder  # (freed only by a collection)
        collector = threading.Thread(target=gc.collect)
        collector.start()
        collector.join(5)  # (the loop held meanwhile: the closes the destroy queued have not run)
        await asyncio.wait_for(aborted, 5)

    gc.disable()
    try:
        asyncio.run(main())
    finally:
        gc.enable()
    assert events.count("abort") == 1 and events.index("close") < events.index("abort"), events


def test_an_iterator_collected_in_another_thread_as_its_response_ends_does_not_abort_it():
    """The collecting thread decides an abort (the body not ended yet); the body's last
    chunk is read on the loop before that decision runs there: the response ended
    normally, and gets no 'abort' after its 'end'."""
    go, sent = threading.Event(), threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        with conn:
            got = b""
            while b"\r\n\r\n" not in got:
                got += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            go.wait(5)
            conn.sendall(b"0\r\n\r\n")
            sent.set()
            go.wait(5)

    threading.Thread(target=answer, daemon=True).start()
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        req = prefork.request({"host": "127.0.0.1", "port": server.getsockname()[1], "agent": False})
        for name in ("abort", "close"):
            req.on(name, lambda name=name: events.append("req " + name))
        req.end()
        res = await asyncio.wait_for(req, 5)
        res.on("end", lambda: events.append("res end"))

        class Holder:
            pass

        holder = Holder()
        holder.cycle = holder
        holder.it = aiter(res)
        async for _ in holder.it:
            break
        del holder

        def collect():  # queued before the turn that reads the body's end: decides, not yet done
            collector = threading.Thread(target=gc.collect)
            collector.start()
            collector.join(5)

        def release():
            go.set()
            sent.wait(5)  # (the last chunk in the kernel: the next turn reads it)
            loop.call_soon(collect)

        loop.call_soon(release)
        deadline = time.monotonic() + 5
        while "req close" not in events and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for _ in range(3):  # (the decision was queued before the read's turn: it has run by now)
            await asyncio.sleep(0)

    gc.disable()
    try:
        asyncio.run(main())
    finally:
        gc.enable()
        server.close()
    assert events[:2] == ["res end", "req close"] and "req abort" not in events, events

AFTER_CLOSE = """
import asyncio, sys
import prefork
KEEP = []
async def main(port):
    req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})
    req.end()
    res = await req
    it = aiter(res)
    KEEP.append(it)
    chunks = 0
    async for _ in it:
        chunks += 1
        if chunks == 3:
            req.destroy()
            asyncio.get_running_loop().stop()  # (its closes never run)
            break
loop = asyncio.new_event_loop()
task = loop.create_task(main(int(sys.argv[1])))
loop.run_forever()
assert task.done() and not KEEP[0].res.destroyed
loop.close()
KEEP.clear()
print("dropped")
"""


def test_an_iterator_collected_after_its_loop_closed_prints_nothing(endless):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", AFTER_CLOSE, str(endless)], capture_output=True,
                          text=True, timeout=20, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "dropped\n", "")


def ours(port, agent, given, in_socket):
    events = []

    async def main():
        options = {"host": "127.0.0.1", "port": port}
        if not agent:
            options["agent"] = False
        req = prefork.request(options)
        for name in ("abort", "close", "socket"):
            req.on(name, lambda *_, name=name: events.append("req." + name))
        req.on("error", lambda err: events.append("req.error " + str(getattr(err, "code", None) or err)))
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))

        def kill(*_):
            req.destroy(ValueError("boom") if given else None)
            req.abort()
            req.abort()

        if in_socket:
            req.on("socket", kill)
            req.end()
        else:
            req.end()
            kill()
            events.append("sync done")
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)  # (an 'abort' or 'error' still due would come by then)

    asyncio.run(main())
    return events


NODE_PROGRAM = """
const req = http.request({port: %d, host: '127.0.0.1'%s});
for (const n of ['abort', 'close', 'socket']) req.on(n, () => log('req.' + n));
req.on('error', (e) => log('req.error', e.code || e.message));
const kill = () => { req.destroy(%s); req.abort(); req.abort(); };
if (%s) { req.on('socket', kill); req.end(); } else { req.end(); kill(); log('sync done'); }
setTimeout(done, 300);
"""


@pytest.mark.parametrize("agent", [False, True])
@pytest.mark.parametrize("given", [False, True])
@pytest.mark.parametrize("in_socket", [False, True])
def test_a_destroy_then_abort_gives_nodes_events(endless, agent, given, in_socket):
    got = ours(endless, agent, given, in_socket)
    error = "req.error boom" if given else "req.error ECONNRESET"
    if not in_socket:
        assert got == ["sync done"] + ([error] if given else []) + ["req.close", "req.abort"]
    elif given:
        assert got == ["req.socket", error, "req.abort", "req.close"]
    else:
        assert got == ["req.socket", "req.abort", error, "req.close"]
    program = NODE_PROGRAM % (endless, "" if agent else ", agent: false", "new Error('boom')" if given else "",
                              "true" if in_socket else "false")
    assert got == node_events(program, joined=True)


def test_a_plain_destroy_before_a_socket_still_hangs_up(endless):
    events = []

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": endless, "agent": False})
        req.on("error", lambda err: events.append("error " + err.code))
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))
        req.end()
        req.destroy()
        await asyncio.wait_for(closed, 5)
        events.append("close")

    asyncio.run(main())
    assert events == ["error ECONNRESET", "close"]


def test_a_destroy_then_abort_of_a_request_waiting_for_a_socket_gives_abort_then_close(endless):
    events = []

    async def main():
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        first = prefork.request({"host": "127.0.0.1", "port": endless, "agent": agent})
        first.on("error", lambda err: None)
        first.end()
        req = prefork.request({"host": "127.0.0.1", "port": endless, "agent": agent})
        for name in ("abort", "close", "socket"):
            req.on(name, lambda *_, name=name: events.append("req." + name))
        req.on("error", lambda err: events.append("req.error " + err.code))
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))
        req.end()
        req.destroy()
        req.abort()
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)
        first.destroy()
        agent.destroy()

    asyncio.run(main())
    assert events == ["req.abort", "req.close"]  # (Node's close comes once a socket is free)
