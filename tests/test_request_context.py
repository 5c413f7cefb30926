"""Each request's listeners run in a context of their own: a ContextVar a listener sets
(a request id, an authenticated user) is not seen by the next request on the same
keep-alive connection, as it is not on a new connection; the request's later
listeners ('data', 'end', its response's 'finish') and a task they start see it."""

import json
import socket

import pytest

from daemon import Daemon


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""

    def send(self, *rids):
        self.sock.sendall(b"".join(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                                   + (b"X-Rid: %s\r\n" % rid if rid else b"") + b"\r\nx" for rid in rids))

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


def seen(rid):
    return {"listener": rid, "data": rid, "end": rid, "task": rid}


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_context_variable_set_for_one_request_is_not_seen_by_the_next_on_the_connection(loop):
    d = Daemon("--loop", loop, app="apps.context_app:setup", workers=1)
    try:
        d.wait_ready()
        client = Client(d.port)
        client.send(b"alice")
        assert client.answer() == seen("alice")
        client.send(None)
        assert client.answer() == seen(None)  # (it saw "alice")
        client.send(b"bob", None, b"carol", None)  # pipelined, in one read: each its own
        assert [client.answer() for _ in range(4)] == [seen("bob"), seen(None), seen("carol"), seen(None)]
        client.sock.close()
        assert d.request("/finishes").endswith(b'["alice", null, "bob", null, "carol", null]')
    finally:
        d.cleanup()
