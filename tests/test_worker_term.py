"""A TERM sent straight to a worker (not through the master): the worker drains, and the
master, told by it, starts the replacement at once and shows the worker as draining;
before, it learnt of the drain only at the worker's exit, so a one-worker daemon whose
worker held a long request accepted nothing (and said it was ready) until then."""

import json
import os
import signal
import socket
import threading

from daemon import wait_until
from harness import read_until_close


def _status(d):
    with socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5) as sock:
        sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
    return json.loads(data.partition(b"\r\n\r\n")[2])


def test_term_to_a_worker_replaces_it_while_it_drains(daemons):
    d = daemons("--interface", "asgi", "--graceful-timeout", "30", app="apps.asgi_apps:app", workers=1)
    d.wait_ready()
    old, = d.wait_workers(1)
    answers = []
    slow = threading.Thread(target=lambda: answers.append(d.request("/sleep?s=8", timeout=20)))
    slow.start()
    try:
        wait_until(lambda: _status(d)["workers"][0]["connections"] >= 1, 5, what="the slow request in the worker")
        os.kill(old, signal.SIGTERM)
        new, = d.wait_workers(1, timeout=5, exclude=(old,))  # long before the slow request ends
        states = {w["pid"]: w["state"] for w in _status(d)["workers"]}
        assert states.get(old) == "draining", states
        answer = d.request("/", timeout=5)  # served by the replacement, at once
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        assert "drains on a signal sent to it; replacing it" in d.log()
    finally:
        slow.join(20)
    assert answers and answers[0].startswith(b"HTTP/1.1 200 OK") and answers[0].endswith(b"slept"), answers
    d.wait_log(rf"\(pid {old}\) stopped: exit status 0")
    assert "died" not in d.log(), d.log()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0


def test_term_to_the_process_group_is_a_stop_not_a_replacement(daemons):
    """``kill -TERM -PGID``: every worker's message that it drains is read after the
    master's own TERM: nothing is replaced, the daemon stops."""
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=2, new_session=True)
    d.wait_ready()
    d.wait_workers(2)
    os.killpg(d.pid, signal.SIGTERM)
    assert d.wait_exit(15) == 0
    assert "replacing it" not in d.log(), d.log()
