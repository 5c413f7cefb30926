"""A keep-alive socket the Agent pooled, once closed (the upstream closed or reset it
while it waited in the pool, or its idle timeout ran out), is freed by reference
counting: the pool's listeners come off it at ``close``. Before, each such socket stayed
in a reference cycle with the pool's listeners (its idle ``timeout`` listener was its
own ``destroy``) until a full collection, so a worker calling an upstream that closes
idle connections grew between collections by a socket per call.

Real loopback sockets: the upstream is a thread of this process.
"""

import asyncio
import socket
import threading

import prefork
from prefork.client import Agent
from prefork.runtime import new_event_loop

from harness import left_in_cycles
from leakdrive import reset


class Upstream:
    """Answers each connection's first request with a keep-alive response, then ends
    it: ``fin`` closes it at once, ``rst`` resets it, ``idle`` keeps it open until the
    client closes it."""

    def __init__(self, ending):
        self.ending = ending
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.held = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            conn.settimeout(10)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=30\r\n\r\nok")
            except OSError:
                conn.close()
                continue
            if self.ending == "fin":
                conn.close()
            elif self.ending == "rst":
                reset(conn)
            else:
                self.held.append(conn)

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        self.listener.close()
        for conn in self.held:
            conn.close()


def pooled_sockets_left_in_cycles(ending, exchanges=30):
    upstream = Upstream(ending)
    agent = Agent(timeout=0.05 if ending == "idle" else 5.0)
    loop = new_event_loop("asyncio")

    async def one():
        req = prefork.request({"host": "127.0.0.1", "port": upstream.port, "path": "/", "agent": agent})
        req.end()
        res = await req
        assert await res.read() == b"ok"

    async def run():
        for _ in range(exchanges):
            await one()
            # until the pooled socket has closed (the upstream's FIN or reset, or the
            # pool's idle timeout), bounded
            for _ in range(500):
                if not any(agent.free_sockets.values()):
                    break
                await asyncio.sleep(0.01)
            assert not any(agent.free_sockets.values()), "a pooled socket never closed"
        for _ in range(3):
            await asyncio.sleep(0)

    try:
        return left_in_cycles(lambda: loop.run_until_complete(run()))
    finally:
        loop.close()
        upstream.stop()


def test_a_pooled_socket_the_upstream_closes_is_freed_without_the_cycle_collector():
    left = pooled_sockets_left_in_cycles("fin")
    assert not left, f"objects left in reference cycles: {dict(left)}"


def test_a_pooled_socket_the_upstream_resets_is_freed_without_the_cycle_collector():
    left = pooled_sockets_left_in_cycles("rst")
    assert not left, f"objects left in reference cycles: {dict(left)}"


def test_a_pooled_socket_whose_idle_timeout_ran_out_is_freed_without_the_cycle_collector():
    left = pooled_sockets_left_in_cycles("idle")
    assert not left, f"objects left in reference cycles: {dict(left)}"
