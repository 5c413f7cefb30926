"""A draining worker whose handler hangs is timed by ``timeout``, as a serving one is."""

import socket
import time


def test_a_handler_hung_in_a_draining_worker_is_aborted_at_timeout_with_its_stack(daemons):
    d = daemons("--timeout", "2", "--graceful-timeout", "30", "--max-requests", "1", workers=1)
    d.wait_ready()
    (first,) = d.wait_workers(1)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # its max_requests: the worker is replaced
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        # the next request hangs it; its replacement boots meanwhile, and it is told to drain
        sock.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")
        start = time.monotonic()
        d.wait_log(r"worker 0 \(pid %d\) sent no heartbeat for [0-9.]+ s; aborting it" % first, timeout=20)
        assert time.monotonic() - start < 20  # (the graceful kill would come at 30 s, with no stack)
        d.wait_log(r"on_request")  # faulthandler's stack of the hung worker names the handler
        assert "did not stop in time" not in d.log()
        d.wait_workers(1, exclude=[first])
    finally:
        sock.close()


def test_a_draining_worker_that_ends_its_loop_is_not_aborted_while_its_threads_are_joined(daemons, tmp_path):
    app = tmp_path / "lingering.py"
    app.write_text(
        "import threading, time\n"
        "def setup(server):\n"
        "    def on_request(req, res):\n"
        "        threading.Thread(target=time.sleep, args=(3,)).start()  # joined at the exit, as Python joins it\n"
        "        res.end('ok')\n"
        "    server.on('request', on_request)\n")
    d = daemons("--timeout", "1", "--graceful-timeout", "30", "--max-requests", "1", "--chdir", str(tmp_path),
                app="lingering:setup", workers=1)
    d.wait_ready()
    (first,) = d.wait_workers(1)
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    d.wait_log(r"worker 0 \(pid %d\) stopped: exit status 0" % first, timeout=15)
    assert "sent no heartbeat" not in d.log()


def test_a_worker_that_exits_of_its_own_accord_and_hangs_in_its_exit_work_is_killed_and_replaced(daemons, tmp_path):
    (tmp_path / "selfexit.py").write_text(
        "import sys, time\n"
        "def setup(server):\n"
        "    def on_request(req, res):\n"
        "        if req.url == '/exit':\n"
        "            res.end('bye')\n"
        "            sys.exit(3)  # the app ends its worker\n"
        "        if req.url == '/hold':  # held open: cut at the exit, its close listener hangs\n"
        "            res.on('close', lambda: time.sleep(1000))\n"
        "            return res.flush_headers()\n"
        "        res.end('ok')\n"
        "    server.on('request', on_request)\n")
    d = daemons("--timeout", "1", "--graceful-timeout", "3", "--chdir", str(tmp_path), app="selfexit:setup",
                workers=1)
    d.wait_ready()
    (first,) = d.wait_workers(1)
    hold = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        hold.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        assert hold.recv(4096).startswith(b"HTTP/1.1 200 OK")
        with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
            sock.sendall(b"GET /exit HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(4096)
        d.wait_log(r"worker 0 \(pid %d\) (did not stop in time; killing it|sent no heartbeat)" % first, timeout=15)
        d.wait_workers(1, exclude=[first], timeout=15)
    finally:
        hold.close()


def healthz(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_worker_joining_its_threads_after_its_drain_is_not_reported_stale(daemons, tmp_path):
    (tmp_path / "lingering.py").write_text(
        "import threading, time\n"
        "def setup(server):\n"
        "    def on_request(req, res):\n"
        "        threading.Thread(target=time.sleep, args=(4,)).start()  # joined at the exit\n"
        "        res.end('ok')\n"
        "    server.on('request', on_request)\n")
    d = daemons("--timeout", "1", "--graceful-timeout", "30", "--max-requests", "1", "--chdir", str(tmp_path),
                "--metrics-bind", "127.0.0.1:0", app="lingering:setup", workers=1)
    d.wait_ready()
    (first,) = d.wait_workers(1)
    port = d.metrics_port()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    d.wait_workers(1, exclude=[first])  # its replacement serves; it joins its thread meanwhile
    answers, deadline = [], time.monotonic() + 30
    while first in d.workers() and time.monotonic() < deadline:  # (about 4 s: the thread's sleep)
        answers.append(healthz(port).split(b"\r\n", 1)[0])
    assert len(answers) > 5 and set(answers) == {b"HTTP/1.1 200 OK"}, answers
    assert "sent no heartbeat" not in d.log()
