"""Each request's listeners run in a context of their own: a ContextVar a listener sets
(a request id, an authenticated user) is not seen by the next request on the same
keep-alive connection, as it is not on a new connection; a task the listener starts
sees the listener's value."""

import json
import socket

import pytest

from daemon import Daemon


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""

    def send(self, *rids):
        self.sock.sendall(b"".join(b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"X-Rid: %s\r\n" % rid if rid else b"")
                                   + b"\r\n" for rid in rids))

    def answer(self):
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if sep:
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return json.loads(rest[:length])
            chunk = self.sock.recv(65536)
            assert chunk, self.buffer
            self.buffer += chunk


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_context_variable_set_for_one_request_is_not_seen_by_the_next_on_the_connection(loop):
    d = Daemon("--loop", loop, app="apps.context_app:setup", workers=1)
    try:
        d.wait_ready()
        client = Client(d.port)
        client.send(b"alice")
        assert client.answer() == {"listener": "alice", "task": "alice"}
        client.send(None)
        assert client.answer() == {"listener": None, "task": None}  # (it saw "alice")
        client.send(b"bob", None, b"carol", None)  # pipelined, in one read: each its own
        assert [client.answer() for _ in range(4)] == [
            {"listener": "bob", "task": "bob"}, {"listener": None, "task": None},
            {"listener": "carol", "task": "carol"}, {"listener": None, "task": None}]
        client.sock.close()
    finally:
        d.cleanup()
