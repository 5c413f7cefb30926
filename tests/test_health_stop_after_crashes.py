"""A worker that served after its slot's crash loop ended is not a crash loop when a
graceful stop drains it: ``/healthz`` said ``crash loop: no worker serving`` (503) as
soon as TERM came, because the draining worker no longer counted as serving and the
quick deaths before it were still counted, so a liveness probe could kill the daemon
in the middle of its drain. ``/readyz`` still says ``stopping``. A real daemon, its
processes killed by PID at the end."""

import json
import signal
import socket
import threading

from daemon import wait_until
from harness import read_until_close

APP = """
import os

def setup(server):
    def on_request(req, res):
        if req.url == "/crash":
            os._exit(1)
        if req.url == "/slow":
            server.loop.call_later(3, res.end, "slow")
            return
        res.end("ok")
    server.on("request", on_request)
"""


def endpoint(d, path):
    with socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def test_a_graceful_stop_after_quick_deaths_is_not_a_crash_loop(daemons, tmp_path):
    (tmp_path / "crashing.py").write_text(APP)
    d = daemons("--app-dir", str(tmp_path), app="crashing:setup", workers=1)
    d.wait_ready()
    for n in range(6):  # quick deaths in a row (the crash-loop count is 5)
        first = d.workers()
        try:
            d.request("/crash", timeout=5)
        except OSError:
            pass
        d.wait_log(r"died", count=n + 1, timeout=15)
        wait_until(lambda: endpoint(d, "/readyz")[0] == 200 and d.workers() != first, 20, what="a new worker serving")
    answers = []
    slow = threading.Thread(target=lambda: answers.append(d.request("/slow", timeout=15)))
    slow.start()
    try:
        wait_until(lambda: json.loads(endpoint(d, "/status.json")[1])["workers"][0]["connections"] == 1, 10,
                   what="the slow request in the worker")
        d.signal(signal.SIGTERM)
        wait_until(lambda: endpoint(d, "/readyz")[0] == 503, 5, what="readiness withdrawn")
        status, text = endpoint(d, "/healthz")
        assert status == 200 and "crash loop" not in text, text
    finally:
        slow.join(15)
    assert answers and answers[0].startswith(b"HTTP/1.1 200 OK"), answers
