"""An app that calls sys.exit() in a callback on the worker's loop ends its worker as a
Python program that calls it ends: with that exit status (0 for ``sys.exit()``), after
the worker's own exit steps, so the master counts the exit by its status and keeps the
worker's last counts. Real daemon, real requests."""

import signal
import textwrap

import pytest

from daemon import wait_until

APP = """
import os, sys

def setup(server):
    def on_request(req, res):
        if req.url.startswith("/exit/"):
            res.end("bye")
            code = req.url.rsplit("/", 1)[1]
            server.loop.call_later(0.05, sys.exit, None if code == "none" else int(code))
            return
        res.end(f"pid {os.getpid()}")
    server.on("request", on_request)
"""


@pytest.mark.parametrize("code, status, reason", [("none", 0, "exit"), ("0", 0, "exit"), ("4", 4, "crash")])
def test_sys_exit_in_a_callback_exits_the_worker_with_its_status_and_counts(daemons, tmp_path, code, status,
                                                                           reason):
    (tmp_path / "exiting.py").write_text(textwrap.dedent(APP))
    # counts travel with the heartbeat (about once a second) and once more at the exit
    d = daemons("--app-dir", str(tmp_path), app="exiting:setup", workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    for _ in range(5):
        assert d.request().startswith(b"HTTP/1.1 200 OK")
    assert d.request(f"/exit/{code}").endswith(b"bye")
    d.wait_log(rf"worker 0 \(pid {worker}\) (died|stopped)")
    assert f"(pid {worker}) died (exit status {status})" in d.log() or (
        status == 0 and f"(pid {worker}) stopped: exit status 0" in d.log()), d.log()
    assert "Traceback" not in d.log()

    def counts():
        samples = d.scrape()
        requests = sum(v for (name, _), v in samples.items() if name == "prefork_requests_total")
        restarts = {dict(labels)["reason"]: v for (name, labels), v in samples.items()
                    if name == "prefork_worker_restarts_total" and v}
        return requests, restarts
    wait_until(lambda: counts() == (6, {reason: 1}), 10, what=lambda: f"6 requests, one {reason}: {counts()}")
    d.wait_workers(1, exclude=(worker,))
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0


KEYBOARD_APP = """
import os

def setup(server):
    def interrupt():
        raise KeyboardInterrupt

    def on_request(req, res):
        res.end(f"pid {os.getpid()}")
        if req.url == "/interrupt":
            server.loop.call_later(0.05, interrupt)
    server.on("request", on_request)
"""


def test_a_keyboard_interrupt_in_a_callback_ends_the_worker_after_its_exit_steps(daemons, tmp_path):
    """(it escaped the worker's loop: a traceback printed twice, status 1, no exit steps,
    the last counts lost)"""
    (tmp_path / "interrupting.py").write_text(textwrap.dedent(KEYBOARD_APP))
    d = daemons("--app-dir", str(tmp_path), app="interrupting:setup", workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    for _ in range(3):
        assert d.request().startswith(b"HTTP/1.1 200 OK")
    assert d.request("/interrupt").startswith(b"HTTP/1.1 200 OK")
    d.wait_log(rf"worker 0 \(pid {worker}\) died")
    assert f"(pid {worker}) died (exit status 130)" in d.log(), d.log()
    assert d.log().count("KeyboardInterrupt") >= 1 and "raise KeyboardInterrupt" in d.log(), d.log()

    def counts():
        samples = d.scrape()
        return sum(v for (name, _), v in samples.items() if name == "prefork_requests_total")
    wait_until(lambda: counts() == 4, 10, what=lambda: f"4 requests counted: {counts()}")
    d.wait_workers(1, exclude=(worker,))
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
