"""Two resets that race the client's own steps, with Node 20's outcomes:

- A peer that resets (SO_LINGER 0) right after a response that ends the connection
  (HTTP/1.0, or ``Connection: close``): once the response's ``end`` came, the socket
  only waits for its close, and the reset is not the request's: Node gives
  ``response``, ``end``, the response's ``close``, the request's ``close``, no ``error``.
  It used to give the request ECONNRESET "read ECONNRESET" after the response's end.
- A kept-alive socket that the server reset while it waited in the agent's pool, unread
  (the loop busy), then given to the next request: its head's write is refused, and
  the request gets Node's ECONNRESET "write ECONNRESET" (``syscall`` write), not
  "socket hang up" from the FIN read after the refusal.

The races are forced with the loop kept busy in a listener until the raw server
thread has reset its connection (a threading.Event, with a deadline).
"""

import asyncio
import socket
import struct
import threading

import pytest

import prefork
from prefork.runtime import new_event_loop
from test_hostile_client import RawServer, read_head

CLOSING_ANSWERS = [
    b"HTTP/1.0 200 OK\r\nCONTENT-LENGTH: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
]


def reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def run(loop_name, main):
    loop = new_event_loop(loop_name)
    try:
        return loop.run_until_complete(asyncio.wait_for(main(loop), 10))
    finally:
        loop.close()


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
@pytest.mark.parametrize("answer", CLOSING_ANSWERS)
def test_a_reset_after_a_response_that_ends_the_connection_is_not_the_requests_error(loop_name, answer):
    was_reset = threading.Event()

    def answer_then_reset(conn, index):
        if read_head(conn) is not None:
            conn.sendall(answer)
            reset(conn)
            was_reset.set()

    server = RawServer(answer_then_reset)

    async def main(loop):
        events = []
        closed = loop.create_future()
        agent = prefork.Agent(keep_alive=True)

        def on_response(res):
            events.append("response")
            res.on("data", lambda chunk: None)
            res.on("end", lambda: events.append("res.end"))
            res.on("close", lambda: events.append("res.close"))
            assert was_reset.wait(5)  # busy: the reset is in the kernel behind the answer

        req = prefork.request({"host": "127.0.0.1", "port": server.port, "path": "/", "agent": agent},
                              on_response, loop=loop)
        req.on("error", lambda err: events.append(("error", err.code, str(err))))
        req.on("close", lambda: (events.append("close"), closed.set_result(None)))
        req.end()
        try:
            await closed
            for _ in range(3):  # (what the socket's close still brings would come by then)
                await asyncio.sleep(0)
        finally:
            agent.destroy()
        return events

    try:
        events = run(loop_name, main)
    finally:
        server.close()
    assert events == ["response", "res.end", "res.close", "close"]


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_a_pooled_socket_reset_while_the_loop_was_busy_fails_its_next_request_with_write_econnreset(loop_name):
    freed = threading.Event()
    was_reset = threading.Event()

    def answer_then_reset_when_pooled(conn, index):
        if read_head(conn) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
            if freed.wait(5):
                reset(conn)
                was_reset.set()

    server = RawServer(answer_then_reset_when_pooled)

    async def main(loop):
        events = []
        done = loop.create_future()
        agent = prefork.Agent(keep_alive=True)

        def one(name):
            req = prefork.request({"host": "127.0.0.1", "port": server.port, "path": "/" + name, "agent": agent},
                                  loop=loop)
            req.on("socket", lambda sock: events.append((name, "socket", req.reused_socket)))
            req.on("response", lambda res: (events.append((name, "response")), res.resume()))
            req.on("error", lambda err: events.append((name, "error", err.code, str(err), err.syscall)))
            req.on("close", lambda: closed(name))
            req.end()

        def closed(name):
            events.append((name, "close"))
            if name == "a":
                # the socket goes to the pool after this listener; then, in a timer (on
                # uvloop, a timer's call_soon runs before the poll: a call_soon's would not),
                # the loop is busy until the server has reset it, and the next request takes it, unread
                loop.call_later(0.001, busy_then_next)
            else:
                done.set_result(None)

        def busy_then_next():
            freed.set()
            assert was_reset.wait(5)
            one("b")

        one("a")
        try:
            await done
        finally:
            agent.destroy()
        return events

    try:
        events = run(loop_name, main)
    finally:
        server.close()
    assert events == [
        ("a", "socket", False), ("a", "response"), ("a", "close"),
        ("b", "socket", True), ("b", "error", "ECONNRESET", "write ECONNRESET", "write"), ("b", "close")]
