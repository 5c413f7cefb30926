"""A client listener of the app's that raises where the request hands its socket on: an
``upgrade`` or ``connect`` listener (called while the 101 or the CONNECT answer is read),
or a ``socket`` listener (called as the agent gives the socket). Logged, the connection
closed, and the request closes, so ``await req`` settles and the agent's slot is free
for the next request. Before, the request never closed after a raising ``upgrade`` or
``connect`` listener, and one whose ``socket`` listener raised never sent its head: its
``await`` waited for ever."""

import asyncio
import logging
import socket
import threading

import prefork
from prefork.http.errors import HTTPError


class Server:
    """Answers each request by its path: /up a 101, CONNECT a 200 (both then hold the
    connection open until the client closes it), anything else a 200 with a body."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.threads = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn):
        conn.settimeout(10)
        try:
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                line = data.split(b"\r\n", 1)[0]
                if line.startswith(b"CONNECT "):
                    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\ntunnel")
                elif b" /up " in line:
                    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\n"
                                 b"Connection: Upgrade\r\n\r\nleftover")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    continue
                while conn.recv(65536):  # held until the client closes it
                    pass
                return
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()
        for thread in self.threads:
            thread.join(10)


def boom(*args):
    raise RuntimeError("a bug in the app's listener")


def exchange(event, options):
    """Makes a request whose ``event`` listener raises, on an agent of one socket; then
    a second request on that agent. Gives what the first's ``await`` came to, whether it
    closed, and the second's body."""
    server = Server()

    async def main():
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        try:
            req = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": agent, **options})
            req.on(event, boom)
            closed = asyncio.get_running_loop().create_future()
            req.on("close", lambda: closed.done() or closed.set_result(True))
            req.on("error", lambda err: None)
            req.end()
            try:
                res = await asyncio.wait_for(req, 5)
                outcome = ("response", res.status_code)
            except asyncio.TimeoutError:
                outcome = ("hang",)
            except HTTPError as err:
                outcome = ("error", getattr(err, "code", None), str(err))
            was_closed = await asyncio.wait_for(closed, 5)
            second = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": agent, "path": "/next"})
            second.end()
            res = await asyncio.wait_for(second, 5)
            return outcome, was_closed, await asyncio.wait_for(res.read(), 5)
        finally:
            agent.destroy()

    try:
        return asyncio.run(main())
    finally:
        server.close()


def logged(caplog, text):
    return [r.message for r in caplog.records if r.name == "prefork.client"].count(text)


def test_a_raising_upgrade_listener_closes_the_request(caplog):
    with caplog.at_level(logging.ERROR, logger="prefork.client"):
        outcome = exchange("upgrade", {"path": "/up", "headers": {"Connection": "Upgrade", "Upgrade": "foo"}})
    assert outcome == (("response", 101), True, b"ok")
    assert logged(caplog, "error in a client listener; closing its connection") == 1


def test_a_raising_connect_listener_closes_the_request(caplog):
    with caplog.at_level(logging.ERROR, logger="prefork.client"):
        outcome = exchange("connect", {"method": "CONNECT", "path": "example.com:443"})
    assert outcome == (("response", 200), True, b"ok")
    assert logged(caplog, "error in a client listener; closing its connection") == 1


def test_a_raising_socket_listener_ends_the_request_in_a_hang_up(caplog):
    with caplog.at_level(logging.ERROR, logger="prefork.client"):
        outcome = exchange("socket", {"path": "/first"})
    assert outcome == (("error", "ECONNRESET", "socket hang up"), True, b"ok")
    assert logged(caplog, "error in a client 'socket' listener; closing its connection") == 1
