"""The per-slot gauges (``prefork_worker_heartbeat_age_seconds``,
``prefork_worker_resident_memory_bytes``) follow the worker that serves in the slot: while a
replacement boots (``max_requests`` reached: the old one serves until the new one is
ready), the heartbeat age stays the serving worker's, about a heartbeat interval at
most, rather than climbing with a boot that sends no heartbeat (a false "hung worker"
on a dashboard or an alert at every recycle). A real daemon with an app that takes
3 s to set up."""

import socket
import time

from daemon import Daemon, wait_until
from harness import read_until_close

AGE = "prefork_worker_heartbeat_age_seconds"


def get(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)


def test_the_heartbeat_age_of_a_slot_is_its_serving_workers_while_a_replacement_boots():
    d = Daemon("--max-requests", "3", app="apps.slow_boot:setup", workers=1, env={"BOOT_SECONDS": "3"})
    try:
        d.wait_ready(timeout=30)
        old, = d.workers()
        for _ in range(3):
            assert get(d.port).startswith(b"HTTP/1.1 200 ")
        replacement = wait_until(lambda: [p for p in d.workers() if p != old], 10, what="the replacement")[0]
        ages = []
        deadline = time.monotonic() + 15
        # scraped while the old worker serves and its replacement boots (it takes 3 s)
        while old in d.workers() and time.monotonic() < deadline:
            samples = d.scrape()
            if old in d.workers():
                ages.append(samples[(AGE, (("slot", "0"),))])
            time.sleep(0.1)
        assert replacement in d.workers() and old not in d.workers()
        assert len(ages) > 10, ages
        assert max(ages) < 1.8, ages
    finally:
        d.cleanup()
