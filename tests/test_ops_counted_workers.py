"""The master's lines said "1 workers" (the start line, TTIN/TTOU, a reload's generation,
/healthz): a count of one takes the singular. The ready line reads ``workers ready: N``
whatever N is, so that what a watcher waits for ("workers ready") stays the same."""

import signal
import socket

from harness import read_until_close

from prefork.master import counted


def test_counted_agrees_with_its_number():
    assert [counted(n, "worker") for n in (0, 1, 2)] == ["0 workers", "1 worker", "2 workers"]
    assert counted(1, "old worker") == "1 old worker"


def _get(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock).partition(b"\r\n\r\n")[2].decode()
    finally:
        sock.close()


def test_one_worker_is_said_in_the_singular(daemons):
    d = daemons(workers=1)
    d.wait_log(r"workers ready: 1")
    assert ", 1 worker\n" in d.log() and "1 workers" not in d.log(), d.log()
    assert _get(d.metrics_port(), "/healthz").startswith("ok: 1 worker, heartbeats"), d.log()
    d.signal(signal.SIGTTIN)
    d.wait_log(r"TTIN: 2 workers")
    d.wait_workers(2)
    d.signal(signal.SIGTTOU)
    d.wait_log(r"TTOU: 1 worker\b")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: starting generation 2 with 1 worker\b")
    d.wait_log(r"reload: generation 2 ready; \d+ old workers? draining")
    assert "1 workers" not in d.log() and "1 old workers" not in d.log(), d.log()
