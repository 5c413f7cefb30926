"""A PROXY header still coming when the server's periodic sweep runs: the sweep goes
on (and keeps running), so the head and request deadlines of every other connection
are still enforced. A peer that held a header back across a sweep made the sweep raise
and never run again: no connection of that server ever got its 408 after that."""

import os
import socket
import threading
import time

import prefork
from prefork.runtime import new_event_loop


def test_a_pending_proxy_header_does_not_stop_the_deadline_sweep():
    loop = new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))
    server = prefork.create_server(lambda req, res: res.end("ok"), loop=loop, connections_checking_interval=0.1,
                                   headers_timeout=0.5, request_timeout=1.0, proxy_protocol_timeout=60.0)
    server.listen(0, proxy_protocol=True)
    proxy_port = server.address()["port"]
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(16)
    server.listen(sock=plain)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(fn):
        done, box = threading.Event(), []
        loop.call_soon_threadsafe(lambda: (box.append(fn()), done.set()))
        assert done.wait(5)
        return box[0]

    balancer = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    slow = None
    try:
        balancer.sendall(b"PROXY TCP4 ")  # the rest of the header is held back
        deadline = time.monotonic() + 5
        while call(lambda: server.open_connections) < 1:
            assert time.monotonic() < deadline, "the PROXY connection was never taken"
            time.sleep(0.02)
        # sweeps now find the pending header (every 0.1 s); a head that never ends on the
        # plain listener must still get its 408 once headers_timeout has passed
        slow = socket.create_connection(("127.0.0.1", plain.getsockname()[1]), timeout=10)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        while b"\r\n" not in answer:
            chunk = slow.recv(1024)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        # the 408's connection goes once its close is done; the header's connection still waits
        deadline = time.monotonic() + 5
        while call(lambda: server.open_connections) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert call(lambda: server.open_connections) == 1
    finally:
        balancer.close()
        if slow is not None:
            slow.close()

        def shutdown():
            server.close_all_connections()
            server.close()
            loop.stop()
        loop.call_soon_threadsafe(shutdown)
        thread.join(5)
        loop.close()
