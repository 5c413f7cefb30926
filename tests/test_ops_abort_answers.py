"""A WSGI app stuck in its call (``while True: pass``) with ``threads = 1``: the master's
SIGABRT at ``timeout`` made the worker dump its stack and die, and the client got an
empty reply. gunicorn's sync worker (``handle_abort``: ``sys.exit(1)`` in the view) answers
it 500 before it exits. The abort now raises into the app's call: the request is answered
500, the stack is still dumped, and the worker still dies of SIGABRT and is replaced. An
app that is not inside a WSGI call (an events handler) dies at once, as before."""

import socket
import time

from daemon import wait_until
from harness import read_until_close

STUCK_WSGI = """
def app(environ, start_response):
    if environ["PATH_INFO"] == "/stuck":
        while True:
            pass
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]
"""

EFFECT_WSGI = """
def app(environ, start_response):
    if environ["PATH_INFO"] == "/stuck":
        while True:
            pass
    if environ["PATH_INFO"] == "/effect":
        open(environ["QUERY_STRING"], "w").close()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]
"""

STUCK_EVENTS = """
def setup(server):
    def on_request(req, res):
        if req.url == "/stuck":
            while True:
                pass
        res.end("fine")
    server.on("request", on_request)
"""


def _get(port, path, timeout=15):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock)
    finally:
        sock.close()


def test_a_stuck_wsgi_call_is_answered_500_before_the_worker_dies(daemons, tmp_path):
    (tmp_path / "stuck_wsgi.py").write_text(STUCK_WSGI)
    d = daemons("--app-dir", str(tmp_path), "--threads", "1", "--timeout", "1", app="stuck_wsgi:app", workers=1)
    d.wait_ready()
    first = d.wait_workers(1)
    started = time.monotonic()
    answer = _get(d.port, "/stuck")
    assert answer.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), (answer, d.log())
    assert time.monotonic() - started < 10
    d.wait_log(r"died \(signal SIGABRT\)")
    log = d.log()
    assert "Fatal Python error: Aborted" in log, log  # the stack dump stays
    assert "Aborted: the worker was aborted: this request ran longer than timeout (1 s)" in log, log
    d.wait_workers(1, exclude=first)
    wait_until(lambda: _get(d.port, "/").endswith(b"fine"), 10, what="the replacement serving")


def test_a_stuck_events_handler_still_dies_at_once(daemons, tmp_path):
    (tmp_path / "stuck_events.py").write_text(STUCK_EVENTS)
    d = daemons("--app-dir", str(tmp_path), "--timeout", "1", app="stuck_events:setup", workers=1)
    d.wait_ready()
    first = d.wait_workers(1)
    assert _get(d.port, "/stuck") == b""
    d.wait_log(r"died \(signal SIGABRT\)")
    assert "Fatal Python error: Aborted" in d.log() and "Aborted: the worker was aborted" not in d.log()
    d.wait_workers(1, exclude=first)


def test_the_aborted_calls_500_closes_its_connection_and_what_was_pipelined_behind_it_is_not_run(daemons, tmp_path):
    (tmp_path / "effect_wsgi.py").write_text(EFFECT_WSGI)
    marker = tmp_path / "effect-ran"
    d = daemons("--app-dir", str(tmp_path), "--threads", "1", "--timeout", "1", app="effect_wsgi:app", workers=1)
    d.wait_ready()
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=15)
    try:
        sock.sendall(f"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n"
                     f"POST /effect?{marker} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        answer = read_until_close(sock)
    finally:
        sock.close()
    head = answer.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and b"\r\nConnection: close" in head, answer
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    d.wait_log(r"died \(signal SIGABRT\)")
    assert not marker.exists(), "the request pipelined behind the aborted one ran"
