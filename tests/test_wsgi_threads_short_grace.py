"""WSGI with threads: at a graceful stop whose ``graceful_timeout`` is short (under about
2.4 s), the worker gave a thread still in the app 0.3 s after the drain's end, longer
than its whole exit margin (``graceful_timeout / 8``), so the master's kill came first
("did not stop in time"). The wait for the threads now fits inside the margin: the
worker exits on its own, the request cut."""

import signal
import socket

from daemon import wait_until


def test_a_thread_still_in_the_app_does_not_outlast_a_short_grace(daemons):
    d = daemons("--graceful-timeout", "2", "--threads", "4", app="apps.wsgi_apps:sleepy", workers=1)
    d.wait_ready()
    worker, = d.wait_workers(1)
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET /?10 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: "sleepy: 10 s" in d.log(), 10, what="the app's call on its thread")
        d.signal(signal.SIGTERM)
        assert d.wait_exit(15) == 0
    log = d.log()
    assert "did not stop in time" not in log, log
    assert f"worker 0 (pid {worker}) stopped: exit status 0" in log, log
