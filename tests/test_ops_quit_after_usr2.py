"""A fast stop (QUIT, INT) just after a USR2 cuts the previous program's workers too:
they still drain what they held when the master re-executed, and the master waited
for that drain (up to graceful_timeout) before it exited, where a fast stop exits
within a couple of seconds."""

import signal
import socket
import time

from daemon import alive, wait_until


def test_quit_after_usr2_does_not_wait_for_the_old_workers_drain(daemons):
    d = daemons(workers=1, graceful_timeout="30")
    d.wait_ready()
    old = d.workers()
    client = socket.create_connection(("127.0.0.1", d.port), timeout=40)
    try:
        client.sendall(b"GET /sleep/25 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: d.scrape().get(("prefork_connections_active", ())) == 1, 10,
                   what="the slow request in the worker")
        d.signal(signal.SIGUSR2)
        d.wait_log(r"workers ready", count=2, timeout=20)
        assert all(alive(pid) for pid in old)  # draining its slow request
        started = time.monotonic()
        d.signal(signal.SIGQUIT)
        assert d.wait_exit(40) == 0
        took = time.monotonic() - started
        assert took < 5, f"{took:.1f} s\n{d.log()}"
        wait_until(lambda: not any(alive(pid) for pid in old), 5, what="the old worker gone")
    finally:
        client.close()
