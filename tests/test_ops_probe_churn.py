"""The operations endpoints at their connection limit, held by 64 addresses each asking
for /healthz about three times a second on a kept-alive connection: no connection is
idle, no address holds more than a probe's would, and every probe from another address
was closed at once (a kubelet's liveness probe failed for as long as the flood went
on). The connection held longest now makes room."""

import threading
import time

from daemon import wait_until
from test_ops_endpoints import LIMIT, accepted, close, hold, master_fds, probe


def test_many_addresses_asking_all_the_time_do_not_keep_a_probe_out(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    base = master_fds(d.pid)
    held = []
    stop = threading.Event()
    try:
        for i in range(LIMIT):
            held += hold(port, 1, source=f"127.0.1.{i + 1}")
        accepted(d, base + LIMIT)

        def ask():  # each asks again every 0.3 s, reading its answers (bounded by the stop)
            deadline = time.monotonic() + 20
            while not stop.is_set() and time.monotonic() < deadline:
                for sock in held:
                    try:
                        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        sock.settimeout(0.05)
                        sock.recv(65536)
                    except OSError:
                        pass
                stop.wait(0.3)
        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        answered = [probe(port, source=f"127.0.2.{i + 1}").startswith(b"HTTP/1.1 200 OK") for i in range(8)]
        assert all(answered), answered  # (0 of 11 before)
    finally:
        stop.set()
        close(held)
    wait_until(lambda: master_fds(d.pid) <= base + 1, 10, what="the master's descriptors back")
