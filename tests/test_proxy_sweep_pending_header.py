"""On a PROXY-protocol listener, a connection whose header has not come yet counts among
the server's connections while it waits. The server's periodic sweep (which enforces
``headers_timeout`` and ``request_timeout``) raised on it (AttributeError), so the
sweep was never scheduled again: from then on no slow client was ever timed out in
that worker, and a slowloris peer held its connections (and descriptors) for ever.

The real daemon, one worker, a PROXY listener, loopback clients.
"""

import socket
import time

from daemon import Daemon

V1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 4444 80\r\n"


def test_slow_heads_are_timed_out_while_a_proxy_header_is_pending():
    d = Daemon("--proxy-protocol", "--proxy-protocol-timeout", "20", "--headers-timeout", "0.5",
               "--connections-checking-interval", "0.1", "--interface", "events",
               app="apps.leak_probe:events", workers=1, access_log=None)
    pending = slow = None
    try:
        d.wait_ready(timeout=20)
        # a connection whose PROXY header is cut: pending for the next 20 s
        pending = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        pending.sendall(V1[:10])
        # a client that sent its header and dribbles a request head
        slow = socket.create_connection(("127.0.0.1", d.port), timeout=0.1)
        slow.sendall(V1 + b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            try:
                slow.sendall(b"X-Slow: 1\r\n")
                chunk = slow.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 "), f"the slow head was not timed out: {answer!r}"
        assert "Server._sweep" not in d.log(), d.log()
    finally:
        for sock in (pending, slow):
            if sock is not None:
                sock.close()
        d.cleanup()
