"""After a USR2 re-exec the workers of the previous master drain their requests, but the
new master's gauges and /status.json left them out: ``prefork_workers`` said 1 while two
processes served, and /status.json listed only the new one (the docs say draining
workers are included). They are now counted and listed, with what /proc knows of them.
A real daemon, real signals; every process is killed by PID at the end."""

import json
import signal
import threading

from daemon import wait_until
from harness import read_until_close
import socket


def status(d):
    sock = socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5)
    try:
        sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return json.loads(body)


def test_the_previous_masters_draining_workers_are_counted_and_listed(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    old, = d.wait_workers(1)
    answers = []
    slow = threading.Thread(target=lambda: answers.append(d.request("/sleep/6", timeout=20)))
    slow.start()
    try:
        wait_until(lambda: status(d)["workers"][0]["connections"] == 1, 10, what="the slow request in the worker")
        d.signal(signal.SIGUSR2)
        d.wait_log(r"workers ready", count=2, timeout=15)
        new, = d.wait_workers(1, timeout=15, exclude=[old])
        listed = status(d)["workers"]
        draining = [w for w in listed if w.get("previous_master")]
        assert [w["pid"] for w in draining] == [old] and draining[0]["state"] == "draining", listed
        assert draining[0]["rss"] > 0 and new in [w["pid"] for w in listed], listed
        assert d.scrape()[("prefork_workers", ())] == 2
    finally:
        slow.join(20)
    assert answers and answers[0].startswith(b"HTTP/1.1 200 OK"), answers  # its request was answered
    wait_until(lambda: not [w for w in status(d)["workers"] if w.get("previous_master")], 10,
               what="the old worker gone from the list")
    wait_until(lambda: d.scrape()[("prefork_workers", ())] == 1, 10, what="the gauge back at 1")  # (its own update)
    d.wait_log(rf"worker \(pid {old}\) of the previous master stopped: exit status 0")  # its end is said
