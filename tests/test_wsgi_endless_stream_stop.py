"""WSGI with ``threads = 1``: a streamed body whose client takes every block at once
never made the call wait for 'drain', so its iteration held the worker's loop for good:
no heartbeat, no signal handled. A graceful stop then ended in the master's kill, the
iterable's close() never called. The iteration now lets the loop take a turn now and
then: the stop's cut ends the stream, close() runs, the worker exits on its own."""

import signal
import socket
import time

from daemon import wait_until


def _stream(d):
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while got.count(b"data: tick") < 3:
        chunk = sock.recv(65536)
        assert chunk, got
        got += chunk
    return sock


def test_an_endless_stream_on_the_loop_is_cut_and_closed_at_a_graceful_stop(daemons, tmp_path):
    mark = tmp_path / "closed"
    access = tmp_path / "access.log"
    d = daemons("--graceful-timeout", "3", "--threads", "1", "--access-log", str(access),
                app="apps.wsgi_endless:app", workers=1, env={"WSGI_CLOSE_MARK": str(mark)})
    d.wait_ready()
    worker, = d.wait_workers(1)
    with _stream(d):
        d.signal(signal.SIGTERM)
        assert d.wait_exit(15) == 0
    log = d.log()
    assert "did not stop in time" not in log, log
    assert f"worker 0 (pid {worker}) stopped: exit status 0" in log, log
    assert mark.read_text() == f"closed {worker}\n"
    assert '"GET /events HTTP/1.1" 200' in access.read_text(), access.read_text()


def test_the_worker_streaming_on_the_loop_keeps_its_heartbeat(daemons, tmp_path):
    """A stream to a fast reader that lasts longer than ``timeout`` is not a hung worker:
    the worker is not killed under it."""
    mark = tmp_path / "closed"
    d = daemons("--timeout", "2", "--threads", "1", app="apps.wsgi_endless:app", workers=1,
                env={"WSGI_CLOSE_MARK": str(mark)})
    d.wait_ready()
    worker, = d.wait_workers(1)
    with _stream(d) as sock:
        sock.settimeout(0.5)
        got = 0
        # 4 s of blocks, twice the timeout: each recv returns within its 0.5 s, the
        # stream going on (a killed worker closes it)
        end = time.monotonic() + 4
        while time.monotonic() < end:
            chunk = sock.recv(65536)
            assert chunk, f"the stream ended after {got} bytes:\n{d.log()}"
            got += len(chunk)
    assert d.workers() == [worker], d.log()
    wait_until(lambda: mark.exists(), 10, what="close() of the iterable once the client left")
    assert "sent no heartbeat" not in d.log(), d.log()
