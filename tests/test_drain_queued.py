"""A draining server takes the connections the kernel queued before it closes its
listener (closing it would reset them), on a PROXY protocol listener too: there a
connection counts only once its header is read, and the drain stopped after one batch
of 32 when the queued clients had not sent their bytes yet.
An in-process server on loopback; the clients are plain sockets."""

import socket
import threading

import pytest

import prefork
from prefork.runtime import new_event_loop

COUNT = 100


@pytest.mark.parametrize("proxy", [False, True], ids=["plain", "proxy"])
def test_a_drain_serves_every_connection_the_kernel_queued(proxy):
    loop = new_event_loop()
    server = prefork.create_server(lambda req, res: res.end("ok"), loop=loop)
    server.listen(0, "127.0.0.1", proxy_protocol=proxy)
    port = server.address()["port"]
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(COUNT)]  # queued, silent
    drained = threading.Event()

    def drain():
        server.drain()
        drained.set()

    def send():
        drained.wait(10)  # the listener is closed now: only what was taken can answer
        for i, client in enumerate(clients):
            head = b"PROXY TCP4 10.0.0.1 10.0.0.254 %d 80\r\n" % (40000 + i) if proxy else b""
            try:
                client.sendall(head + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
    sender = threading.Thread(target=send)
    sender.start()
    loop.call_soon(drain)
    server.on("close", loop.stop)  # every connection taken has ended
    loop.call_later(20, loop.stop)  # (a bound)
    try:
        loop.run_forever()
    finally:
        sender.join(10)
        loop.close()
    answered = 0
    for client in clients:
        try:
            data = client.recv(65536)
        except OSError:
            data = b""
        answered += data.startswith(b"HTTP/1.1 200 OK")
        client.close()
    assert answered == COUNT
