"""Coroutine listeners, where they once differed from their documented rules (an
in-process server on loopback, and one real daemon):

- ``await req.body()`` and ``async for chunk in req`` started after the connection went
  waited for ever (the 'close' they wait for had come already): they raise Aborted;
- a coroutine that raises CancelledError (or is cancelled) while its request is open
  was ignored (no answer, no log): a 500, as for any raising listener;
- a response whose code failed after its head went out closed the connection at once:
  the responses before it (pipelined) and a later request's were lost; what was
  written now goes out in its turn, then the close; a failure after the response is
  whole closes nothing;
- the client: a raising coroutine 'response' listener left its connection open;
- the worker's exit left coroutines waiting for ever uncancelled: their finally never ran.
"""

import asyncio
import os
import signal
import socket
import struct

import prefork
from hostile import read_to_close


def exchange_rst(port, data, wait_for, st):
    """Send ``data``, wait for the server to see it, then reset the connection."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    st.wait_for(wait_for)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_reading_a_body_after_the_connection_went_raises(serve):
    for reader in ("body", "iterate"):
        def setup(server, st):
            async def on_request(req, res):
                st.record("started")
                while not req.destroyed:
                    await asyncio.sleep(0.02)
                try:
                    if reader == "body":
                        await req.body()
                    else:
                        async for _ in req:
                            pass
                    st.record("read")
                except ConnectionResetError as err:
                    st.record("raised " + err.code)
            server.on("request", on_request)
        st = serve(setup)
        exchange_rst(st.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
                     lambda e: e[0] == "started", st)
        assert st.wait_for(lambda e: e[0].startswith(("raised", "read")))[0] == "raised ECONNRESET", reader


def test_a_cancelled_coroutine_is_a_failure(serve):
    def setup(server, st):
        async def on_request(req, res):
            raise asyncio.CancelledError()
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_to_close(sock).startswith(b"HTTP/1.1 500 ")


def test_a_plain_listener_raising_cancelled_error_is_a_failure(serve):
    def on_request(req, res):
        raise asyncio.CancelledError()
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_to_close(sock).startswith(b"HTTP/1.1 500 ")


def test_a_failure_after_the_head_closes_in_turn(serve):
    """/1 answers after 0.3 s; /2 (pipelined) writes part of its body and fails: the
    client gets /1's response, then /2's part, then the close (it got nothing)."""
    def setup(server, st):
        async def on_request(req, res):
            if req.url == "/1":
                await asyncio.sleep(0.3)
                res.end("one")
            else:
                res.write("two-partial")
                await asyncio.sleep(0.05)
                raise RuntimeError("the app failed")
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_to_close(sock)
    first, _, rest = data.partition(b"one")
    assert first.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 3" in first, data
    assert rest.startswith(b"HTTP/1.1 200 OK") and b"two-partial" in rest and not rest.endswith(b"0\r\n\r\n"), data


def test_a_failure_after_the_response_is_whole_keeps_the_connection(serve):
    def setup(server, st):
        async def on_request(req, res):
            res.end("first" if req.url == "/first" else "second")
            if req.url == "/first":
                await asyncio.sleep(0.1)
                raise RuntimeError("after the response")
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while not got.endswith(b"first"):
            got += sock.recv(4096)
        loop_done = asyncio.run_coroutine_threadsafe(asyncio.sleep(0.3), st.loop)
        loop_done.result(5)  # the failure has happened meanwhile
        sock.sendall(b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_to_close(sock).endswith(b"second")


def test_a_raising_coroutine_response_listener_closes_the_clients_connection(serve):
    st = serve(lambda server, st_: server.on("request", lambda req, res: res.end(b"x" * 300_000)))

    async def main():
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        req = prefork.request(f"http://127.0.0.1:{st.port}/", agent=agent)
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.done() or closed.set_result(True))

        async def on_response(res):
            raise RuntimeError("the app's listener")
        req.on("response", on_response)
        req.end()
        await asyncio.wait_for(closed, 5)  # (it stayed open, and held the agent's one socket)
        res = await asyncio.wait_for(prefork.get(f"http://127.0.0.1:{st.port}/", agent=agent), 5)
        body = await asyncio.wait_for(res.read(), 5)
        agent.destroy()
        return len(body)
    loop = prefork.runtime.new_event_loop("asyncio")
    try:
        assert loop.run_until_complete(main()) == 300_000
    finally:
        loop.close()


APP = """
import asyncio, os

def setup(server):
    async def on_request(req, res):
        res.write("started")
        try:
            await asyncio.sleep(3600)
        finally:
            with open(os.environ["MARK"], "w") as fh:
                fh.write("finally")
    server.on("request", on_request)
"""


def test_the_workers_exit_cancels_a_waiting_coroutine(daemons, tmp_path):
    (tmp_path / "forever_app.py").write_text(APP)
    mark = tmp_path / "mark"
    d = daemons("--graceful-timeout", "2", app="forever_app:setup", workers=1,
                env={"MARK": str(mark), "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"started" not in got:
            got += sock.recv(4096)
        d.signal(signal.SIGTERM)
        assert d.wait_exit(15) == 0
    assert mark.read_text() == "finally"
