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
