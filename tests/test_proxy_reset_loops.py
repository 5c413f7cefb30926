"""A peer that resets its connection part-way through a PROXY header: the header step
ends at once as ``closed``, on both worker loops (uvloop calls a reader once and never
again when the peer's bytes and its reset wait together)."""

import socket
import struct
import threading
import time

import pytest

import prefork
from prefork.runtime import new_event_loop

LOOPS = ["asyncio", "uvloop"]


class ProxyListener:
    def __init__(self, loop_name):
        self.loop = new_event_loop(loop_name)
        self.server = prefork.create_server(lambda req, res: res.end("ok"), loop=self.loop,
                                            proxy_protocol_timeout=30.0)
        self.server.listen(0, proxy_protocol=True)
        self.port = self.server.address()["port"]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, fn):
        done, box = threading.Event(), []
        self.loop.call_soon_threadsafe(lambda: (box.append(fn()), done.set()))
        assert done.wait(5)
        return box[0]

    def state(self):
        return self.call(lambda: (dict(self.server.stats.proxy_errors), self.server.connections))

    def stop(self):
        def shutdown():
            self.server.close_all_connections()
            self.server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(shutdown)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(params=LOOPS)
def listener(request):
    srv = ProxyListener(request.param)
    yield srv
    srv.stop()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@pytest.mark.parametrize("partial", [b"PROXY TCP4 192.0.2.1 ", b"\r\n\r\n\x00\r\nQUIT\n\x21"])
def test_a_reset_within_the_header_closes_it_at_once(listener, partial):
    client = socket.create_connection(("127.0.0.1", listener.port))
    assert wait_for(lambda: listener.state()[1] == 1)  # accepted: its header step waits for bytes
    busy = threading.Event()
    # the loop is busy while the header's first bytes and the reset arrive together
    listener.loop.call_soon_threadsafe(lambda: (busy.set(), time.sleep(0.3)))
    assert busy.wait(5)
    client.sendall(partial)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset, with the header's first bytes still unread by the server
    assert wait_for(lambda: listener.state()[0]) == {"closed": 1}  # not the timeout's, 30 s away
    assert wait_for(lambda: listener.state()[1] == 0)
