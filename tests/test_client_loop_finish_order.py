"""A request's 'finish' comes before its response's events, and a kept-alive exchange
closes in Node's order (the request's 'close', then the response's), on both loops,
also when the loop is busy while the answer arrives (uvloop reads it before what the
loop had queued)."""

import asyncio
import socket
import threading
import time

import pytest

import prefork
from prefork.runtime import new_event_loop

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


class KeepAliveServer:
    """Answers every request at once; keeps each connection until its client's FIN."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(10)
        buf = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    conn.sendall(ANSWER)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def server():
    srv = KeepAliveServer()
    yield srv
    srv.close()


def exchange_twice(port, loop_name):
    loop = new_event_loop(loop_name)
    agent = prefork.Agent(keep_alive=True)
    events = []
    done = loop.create_future()

    def one(name, after):
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent, "path": "/" + name}, loop=loop)
        req.on("socket", lambda s: events.append([name, "socket", req.reused_socket]))
        req.on("finish", lambda: events.append([name, "finish"]))

        def on_response(res):
            events.append([name, "response", req.writable_finished])
            res.on("data", lambda chunk: None)
            res.on("end", lambda: events.append([name, "end"]))
            res.on("close", lambda: (events.append([name, "res.close"]), after()))
        req.on("response", on_response)
        req.on("close", lambda: events.append([name, "close"]))
        req.end()
        # the loop is busy for a moment once the request is written: its answer is
        # waiting when the loop next polls
        loop.call_soon(time.sleep, 0.05)

    def second():
        one("b", lambda: loop.call_later(0.05, lambda: done.done() or done.set_result(None)))

    loop.call_soon(one, "a", lambda: loop.call_later(0.05, second))
    try:
        loop.run_until_complete(asyncio.wait_for(done, 10))
    finally:
        agent.destroy()
        loop.run_until_complete(asyncio.sleep(0.01))
        loop.close()
    return events


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_finish_before_the_response_and_closes_in_nodes_order(server, loop_name):
    events = exchange_twice(server.port, loop_name)
    assert events == [
        ["a", "socket", False], ["a", "finish"], ["a", "response", True], ["a", "end"],
        ["a", "close"], ["a", "res.close"],
        ["b", "socket", True], ["b", "finish"], ["b", "response", True], ["b", "end"],
        ["b", "close"], ["b", "res.close"]]
