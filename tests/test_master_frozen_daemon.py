"""A daemon frozen whole (``docker pause``, ``systemctl freeze``, SIGSTOP to the master
and every worker) for longer than ``timeout``, then thawed: the master comes back
first and finds every heartbeat old, but it was not running either, so it cannot tell
a hung worker from a frozen one. It says it was stopped and judges each worker's silence
from the pause's length later: the same workers serve on, none is aborted or killed. Real daemon, real signals."""

import json
import os
import signal
import socket
import time

from daemon import wait_until
from harness import read_until_close


def _status(d):
    sock = socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5)
    try:
        sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return json.loads(body)


def test_workers_frozen_with_the_master_past_timeout_are_not_killed_when_thawed(daemons):
    d = daemons("--timeout", "2", workers=2)
    d.wait_ready()
    workers = d.wait_workers(2)
    for pid in [d.pid] + workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(3.5)  # the freeze itself: longer than timeout
        os.kill(d.pid, signal.SIGCONT)  # the master thaws first, its workers still stopped
        d.wait_log(r"did not run for|sent no heartbeat")
        # the workers, still stopped, are within the grace the pause gave them: /status.json
        # judges them as the aborts, the watchdog and /healthz do, not stale
        status = _status(d)
        assert [w["stale"] for w in status["workers"]] == [False, False], (status, d.log())
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:  # (killed as hung)
                pass
    assert "did not run for" in d.log(), d.log()

    def fresh():
        ages = [v for (name, _), v in d.scrape().items() if name == "prefork_worker_heartbeat_age_seconds"]
        return len(ages) == 2 and all(age < 1.0 for age in ages)
    wait_until(fresh, 10, what=d.log)
    assert d.serving_workers() == workers, d.log()
    assert "sent no heartbeat" not in d.log() and "killing it" not in d.log(), d.log()
    assert b"200 OK" in d.request().split(b"\r\n")[0], d.log()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
