"""``max_connections`` (Node's server.maxConnections, gunicorn's worker_connections): a
worker holding that many connections closes a new one as soon as it is accepted, and
takes new ones again once some are gone. There was no setting: one client could hold
every descriptor a worker had."""

import socket

from daemon import Daemon, wait_until


def test_connections_past_the_limit_are_closed_until_some_go():
    d = Daemon("--max-connections", "3", workers=1)
    held = []
    try:
        d.wait_ready()
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")  # (each is in the worker now)
            held.append(sock)
        extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert extra.recv(65536) == b""  # closed as soon as accepted
        except ConnectionResetError:
            pass
        extra.close()
        held.pop().close()
        wait_until(lambda: d.request("/").startswith(b"HTTP/1.1 200 OK"), 5, what="room again")
    finally:
        for sock in held:
            sock.close()
        d.cleanup()
