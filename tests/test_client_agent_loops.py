"""An Agent used from one event loop after another (``asyncio.run()`` twice, a test
suite whose tests each get a new loop, the module-level global agent): a request on
the new loop never gets a pooled socket of the old one (which only that loop can
drive: the request would hang), nor waits behind a socket slot an unfinished request
of a closed loop still held; ``destroy()`` after the loop closed does not raise.

Real loopback sockets: a keep-alive upstream on threads of this process.
"""

import asyncio
import socket
import threading

import pytest

import prefork
from prefork.client import Agent
from prefork.runtime import new_event_loop


def upstream(silent_paths=("/silent",)):
    """A keep-alive HTTP/1.1 server on threads (every request answered ``ok``, except a
    path in ``silent_paths``: never answered); returns (listener, port)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(30)

    def handle(conn):
        conn.settimeout(30)
        data = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    head, data = data.split(b"\r\n\r\n", 1)
                    if head.split(b" ")[1].decode() in silent_paths:
                        continue
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


async def fetch(agent, port, path="/"):
    req = prefork.get({"host": "127.0.0.1", "port": port, "path": path, "agent": agent})
    res = await asyncio.wait_for(req.response(), 5)
    return await asyncio.wait_for(res.read(), 5), req.reused_socket


def run_on_a_new_loop(coro_fn, kind="asyncio"):
    loop = new_event_loop(kind)
    try:
        return loop.run_until_complete(coro_fn())
    finally:
        loop.close()


@pytest.mark.parametrize("kinds", [("asyncio", "asyncio"), ("asyncio", "uvloop"), ("uvloop", "uvloop")])
def test_a_pooled_socket_of_a_closed_loop_is_not_given_to_the_next_loop(kinds):
    if "uvloop" in kinds:
        pytest.importorskip("uvloop")
    listener, port = upstream()
    agent = Agent(keep_alive=True)
    try:
        for kind in kinds:
            body, _ = run_on_a_new_loop(lambda: fetch(agent, port), kind)
            assert body == b"ok"
        # the pool works on the new loop as before: the next request reuses its socket
        async def twice():
            await fetch(agent, port)
            return await fetch(agent, port)
        body, reused = run_on_a_new_loop(twice)
        assert (body, reused) == (b"ok", True)
        agent.destroy()  # the pool's last loop is closed: no RuntimeError
    finally:
        listener.close()


def test_a_slot_held_by_a_request_of_a_closed_loop_does_not_block_the_next_loop():
    listener, port = upstream()
    agent = Agent(keep_alive=True, max_sockets=1)
    try:
        async def left_unanswered():
            req = prefork.get({"host": "127.0.0.1", "port": port, "path": "/silent", "agent": agent})
            req.on("error", lambda err: None)
            connected = asyncio.get_running_loop().create_future()
            req.on("socket", lambda sock: sock.once("connect", lambda: connected.done() or connected.set_result(None)))
            await asyncio.wait_for(connected, 5)
        run_on_a_new_loop(left_unanswered)  # the loop closes with the request in flight
        body, _ = run_on_a_new_loop(lambda: fetch(agent, port))
        assert body == b"ok"
        agent.destroy()
    finally:
        listener.close()


def test_the_global_agent_serves_one_loop_after_another():
    listener, port = upstream()
    try:
        for _ in range(2):
            body, _ = run_on_a_new_loop(lambda: fetch(None, port))
            assert body == b"ok"
    finally:
        listener.close()
