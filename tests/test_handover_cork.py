"""A socket handed to an ``upgrade`` or ``connect`` listener keeps what the listener
does with it: a ``cork()`` made in the listener holds the bytes written after it until
the listener's own ``uncork()``, as in Node (the connection uncorked its own read's cork
before the hand-over, and must not uncork again after the listener returns)."""

import socket
import threading

import pytest

import prefork
from prefork.runtime import new_event_loop


@pytest.mark.parametrize("kind", ["upgrade", "connect"])
def test_a_cork_made_in_the_hand_over_listener_holds_until_its_uncork(kind):
    loop = new_event_loop("asyncio")
    server = prefork.create_server(loop=loop)
    seen = {}
    done = threading.Event()

    def listener(req, sock, head):
        sock.cork()
        sock.write(b"corked")

        def later():  # the loop turn after the read that handed the socket over
            seen["corked"] = sock.writable_corked
            seen["buffered"] = sock.buffered_size
            sock.uncork()
            sock.end()
            done.set()
        loop.call_soon(later)

    server.on(kind, listener)
    server.listen(0)
    port = server.address()["port"]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        if kind == "upgrade":
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: demo\r\n\r\n")
        else:
            client.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        assert done.wait(10), "the listener's next turn did not come"
        data = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        client.close()
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert seen == {"corked": 1, "buffered": len(b"corked")}
    assert data == b"corked"
